"""PID 1 of one command's namespaces in the sid root filesystem (tests/sid.py starts it with
`unshare`). Runs on the host's Python, before the chroot, with no imports from the tests.

It mounts a tmpfs on the scratch directory and, on it, an overlay whose lower layer is the
cached tree: the tree is never written, and everything the command writes outside its bind
mounts lives in this namespace's memory only. Then the host's /dev, a /proc of the new PID
namespace, /sys, a fresh /tmp and the bind mounts of the spec; then it runs the command in the
chroot as its child, reaps every orphan reparented to it (as an init must, or they stay zombies
that psutil still lists), and exits with the command's status. When it exits the kernel kills
whatever else still runs in the PID namespace (a daemon a test forgot), and the mounts go with
the mount namespace.
"""

import json
import os
import signal
import subprocess
import sys
import traceback
from typing import Any


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def bind(source: str, target: str, *, read_only: bool) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass
    mount("--bind", source, target)
    if read_only:
        mount("-o", "remount,bind,ro", target)


def prepare(spec: dict[str, Any]) -> str:
    """Mount everything; return the root to chroot into."""
    scratch, tree = spec["scratch"], spec["tree"]
    mount("-t", "tmpfs", "-o", "mode=0755", "sid-run", scratch)
    for name in ("upper", "work", "root"):
        os.mkdir(os.path.join(scratch, name))
    root = os.path.join(scratch, "root")
    layers = f"lowerdir={tree},upperdir={scratch}/upper,workdir={scratch}/work"
    mount("-t", "overlay", "-o", layers, "sid-overlay", root)
    mount("--rbind", "/dev", f"{root}/dev")
    mount("-t", "proc", "proc", f"{root}/proc")
    mount("--rbind", "/sys", f"{root}/sys")
    mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", f"{root}/tmp")
    for source, target, read_only in spec["binds"]:
        bind(source, root + target, read_only=read_only)
    return root


def main() -> None:
    spec = json.loads(sys.argv[1])
    root = prepare(spec)
    child = os.fork()
    if child == 0:
        try:
            os.chroot(root)
            os.chdir(spec["cwd"])
            os.execvpe(spec["command"][0], spec["command"], spec["env"])
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(127)
    # PID 1 gets no default signal actions: pass the polite ones on to the command.
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda received, _frame: os.kill(child, received))
    while True:
        pid, status = os.wait()
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
