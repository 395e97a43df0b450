#!/bin/sh
# cairn postrm. remove keeps /var/lib/cairn and the cairn user; purge deletes the data
# directory (purge means "and my data"), and keeps the user, as Debian recommends, so
# that files it owns elsewhere never fall to a reused uid.
set -e

case "$1" in
purge)
	if [ -d /run/systemd/system ]; then
		systemctl disable cairn.service >/dev/null 2>&1 || true
	fi
	rm -rf /var/lib/cairn
	;;
esac
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
fi
exit 0
