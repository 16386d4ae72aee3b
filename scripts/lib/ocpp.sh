# OCPP peer written by others for the fieldbus/ocpp interop test: charging stations
# built on npm ocpp-rpc in strict mode. Source this file, then call ocpp_install; it
# installs the version pinned in fieldbus/ocpp/testdata/peer/package.json with npm
# into that directory's node_modules (git ignores it) unless it is there already.

ocpp_install() {
  local dir=fieldbus/ocpp/testdata/peer
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "test: node and npm are needed for the OCPP interop peer (ocpp-rpc)" >&2
    return 1
  fi
  local want; want=$(sed -n 's/.*"ocpp-rpc": "\([^"]*\)".*/\1/p' "$dir/package.json")
  local have=""
  [ -f "$dir/node_modules/ocpp-rpc/package.json" ] &&
    have=$(sed -n 's/^ *"version": "\([^"]*\)".*/\1/p' "$dir/node_modules/ocpp-rpc/package.json" | head -n1)
  if [ "$have" != "$want" ]; then
    echo "test: installing ocpp-rpc $want with npm" >&2
    (cd "$dir" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null) || {
      echo "test: npm install of ocpp-rpc $want failed" >&2
      return 1
    }
  fi
}
