# The NATS server of a real district deployment: Debian's nats-server, which the
# district cluster tests (district/dnats) run as a three-node cluster on loopback.
# Source this file, then call nats_install; it installs with apt-get only when missing.

. "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

nats_install() { apt_install_missing "NATS server" nats-server; }
