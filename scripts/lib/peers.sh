# Modbus peers written by others, used by the fieldbus interop tests: a pymodbus
# server (python3-pymodbus) and the mbpoll client. Source this file, then call
# peers_install; it installs with apt-get only what is missing.

. "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

peers_install() { apt_install_missing "Modbus peers" python3-pymodbus python3-serial python3-serial-asyncio mbpoll; }
