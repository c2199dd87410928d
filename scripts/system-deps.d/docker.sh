# Docker Engine, debootstrap and a local image registry for the image pipeline's tests (autonomy/images).
# Sourced by scripts/system-deps (root on Debian; apt_install is defined there). Idempotent: it installs
# only what is missing and starts dockerd / the registry only when nothing answers yet.
#
# dockerd never touches the host firewall here: no iptables rules, no IP forwarding, no masquerading and
# no default bridge (builds and test containers use --network host). Its config is our own file, so a
# Docker set up by the machine's owner (/etc/docker/daemon.json) is left alone; when a dockerd already
# answers on /var/run/docker.sock it is used as it is.
apt_install docker.io debootstrap docker-registry

autonomy_docker_dir=/etc/autonomy-test
autonomy_registry_root=/var/lib/autonomy-test-registry
mkdir -p "$autonomy_docker_dir" "$autonomy_registry_root"

if ! docker info >/dev/null 2>&1; then
  cat >"$autonomy_docker_dir/dockerd.json" <<'JSON'
{"iptables": false, "ip-forward": false, "ip-masq": false, "bridge": "none", "storage-driver": "overlay2", "log-driver": "local"}
JSON
  echo "system-deps: starting dockerd (log: /var/log/autonomy-test-dockerd.log)"
  # setsid + nohup: the daemon outlives this script (and the test run that sourced it)
  setsid nohup dockerd --config-file "$autonomy_docker_dir/dockerd.json" -H unix:///var/run/docker.sock \
    >>/var/log/autonomy-test-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "system-deps: dockerd did not answer within 60 s; see /var/log/autonomy-test-dockerd.log" >&2; exit 1; }
fi

if ! curl -fsS -m 2 -o /dev/null http://127.0.0.1:5000/v2/ 2>/dev/null; then
  cat >"$autonomy_docker_dir/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $autonomy_registry_root
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
YAML
  # the tests delete their manifests; drop the layers nothing refers to any more (only safe while stopped)
  docker-registry garbage-collect --delete-untagged "$autonomy_docker_dir/registry.yml" >/dev/null 2>&1 || true
  echo "system-deps: starting a registry on 127.0.0.1:5000 (log: /var/log/autonomy-test-registry.log)"
  setsid nohup docker-registry serve "$autonomy_docker_dir/registry.yml" \
    >>/var/log/autonomy-test-registry.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do curl -fsS -m 2 -o /dev/null http://127.0.0.1:5000/v2/ 2>/dev/null && break; sleep 0.5; done
  curl -fsS -m 2 -o /dev/null http://127.0.0.1:5000/v2/ \
    || { echo "system-deps: the registry did not answer on 127.0.0.1:5000; see /var/log/autonomy-test-registry.log" >&2; exit 1; }
fi
