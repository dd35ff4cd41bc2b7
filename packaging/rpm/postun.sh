# %postun (meshsnap): what %systemd_postun_with_restart does. $1: 0 erase, 1 upgrade.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
	if [ "$1" -ge 1 ]; then
		systemctl try-restart meshsnap.service >/dev/null 2>&1 || :
	fi
fi
if [ "$1" -eq 0 ]; then
	if [ -d /var/lib/meshsnap ]; then
		echo "meshsnap: left /var/lib/meshsnap (database and snapshots); remove it by hand if unneeded."
	fi
	if getent passwd meshsnap >/dev/null; then
		echo "meshsnap: left the system user and group 'meshsnap' (they may still own files)."
	fi
fi
exit 0
