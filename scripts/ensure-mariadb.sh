#!/usr/bin/env bash
# Makes sure the MariaDB/MySQL server the tests use is reachable (TEST_MYSQL_URL, default
# mysql://root@127.0.0.1:3306), starting the local mariadbd when it is installed but not running.
set -euo pipefail

host=127.0.0.1
port=3306

reachable() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

# The fault suite (crates/reliability/tests/faults.rs) starts servers of its own, whatever
# TEST_MYSQL_URL says: it needs the server's programs on this machine.
for program in mariadb-install-db mariadbd mariadb; do
  if ! PATH="$PATH:/usr/sbin" command -v "$program" >/dev/null; then
    echo "ensure-mariadb: $program is not installed; the fault suite starts MariaDB servers of its own." >&2
    echo "  Install it: apt-get install -y mariadb-server" >&2
    exit 1
  fi
done

if [[ -n "${TEST_MYSQL_URL:-}" ]]; then
  echo "ensure-mariadb: using TEST_MYSQL_URL as given"
  exit 0
fi
if reachable; then
  exit 0
fi
if [[ ! -x /usr/sbin/mariadbd ]]; then
  echo "ensure-mariadb: no server on $host:$port and /usr/sbin/mariadbd is not installed." >&2
  echo "  Install it (apt-get install -y mariadb-server) or point TEST_MYSQL_URL at a MySQL 8 / MariaDB server." >&2
  exit 1
fi
echo "ensure-mariadb: starting mariadbd"
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
for _ in $(seq 1 60); do
  if reachable; then
    echo "ensure-mariadb: up on $host:$port"
    exit 0
  fi
  sleep 0.5
done
echo "ensure-mariadb: mariadbd did not start listening on $host:$port within 30 s; see the server's error log (often /var/log/mysql/error.log)." >&2
exit 1
