# %preun (meshsnap): what %systemd_preun does. $1: 0 erase, 1 upgrade.
if [ "$1" -eq 0 ]; then
	if [ -d /run/systemd/system ]; then
		systemctl --no-reload disable --now meshsnap.service >/dev/null 2>&1 || :
	else
		systemctl --no-reload disable meshsnap.service >/dev/null 2>&1 || :
	fi
fi
exit 0
