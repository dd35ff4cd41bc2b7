# %post (meshsnap): what %systemd_post does. $1: 1 install, 2 upgrade.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
	# Enable or not according to the distribution's presets (works without a running systemd).
	systemctl --no-reload preset meshsnap.service >/dev/null 2>&1 || :
fi
exit 0
