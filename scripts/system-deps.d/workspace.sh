# Upstream parity (issue 10): Workspace.terminal runs commands in a bubblewrap sandbox
# (autonomy/tools/sandbox.py); the Repl tests talk to it with nc, as upstream's users do.
apt_install bubblewrap netcat-openbsd
