#!/bin/sh
# cairn prerm: stop the service before its binary goes away (not on upgrade: postinst restarts it).
set -e

if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
	systemctl stop cairn.service || true
fi
exit 0
