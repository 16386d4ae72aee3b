# Reference LP solvers used by the optimizer tests and benchmarks: glpsol
# (glpk-utils) and cbc/Clp (coinor-cbc). Source this file, then call
# solvers_install; it installs with apt-get only what is missing, quietly.
. "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

solvers_install() { apt_install_missing "LP solvers" glpk-utils coinor-cbc; }
