#!/bin/sh
# cairn postinst: the cairn system user, its data directory, and the systemd unit.
set -e

if [ "$1" = "configure" ]; then
	if ! getent passwd cairn >/dev/null; then
		adduser --system --group --home /var/lib/cairn --no-create-home \
			--shell /usr/sbin/nologin --gecos "Cairn IoT platform" cairn
	fi
	# The data directory is not in the package's file list, so dpkg never removes it:
	# upgrades and remove keep it; only purge (postrm) deletes it.
	if [ ! -d /var/lib/cairn ]; then
		install -d -o cairn -g cairn -m 0750 /var/lib/cairn
	fi

	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null || true
		if [ -z "$2" ]; then
			# First install: enable and start.
			systemctl enable cairn.service >/dev/null || true
			systemctl start cairn.service || true
		else
			# Upgrade: restart only if it was running.
			systemctl try-restart cairn.service || true
		fi
	fi
fi
exit 0
