# %pre (meshsnap): create the system user before the files land. $1: 1 install, 2 upgrade.
if ! getent passwd meshsnap >/dev/null; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		echo 'u meshsnap - "meshsnap daemon" /var/lib/meshsnap' |
			systemd-sysusers --replace=/usr/lib/sysusers.d/meshsnap.conf - || :
	fi
fi
if ! getent passwd meshsnap >/dev/null; then
	getent group meshsnap >/dev/null || groupadd -r meshsnap
	useradd -r -g meshsnap -d /var/lib/meshsnap -M -s /sbin/nologin -c "meshsnap daemon" meshsnap
fi
exit 0
