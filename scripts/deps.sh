#!/usr/bin/env bash
# Install the Debian packages pgreshard needs to build, test and demo, when
# they are missing.  Safe to run repeatedly: does nothing when all are present.
set -euo pipefail

PKGS=(build-essential pkg-config libpq-dev libyaml-dev liblua5.4-dev libpg-query-dev
      libprotobuf-c-dev libcmocka-dev libjansson-dev libssl-dev jq time python3 postgresql-15 postgresql-client-15
      postgresql-contrib)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "pgreshard: installing missing packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Do not let the package create and start its default cluster: tests start their own.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
	$SUDO mkdir -p /etc/postgresql-common
	echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
$SUDO apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
