# The process runtime's sandbox: bubblewrap (private mount/PID/IPC/UTS namespaces) and nftables
# (the project's own tables isolating zones on the pod bridge). setpriv and nsenter come with util-linux.
apt_install bubblewrap nftables
