"""Runs inside the sandbox as the answer's own user (never imported by the app): runs answer.sh for the tests.

Usage: python -E -s FOLDER/_broker.py BASH FOLDER/answer.sh   (fd 3: a SOCK_SEQPACKET socket to the tests' side)

The tests call `bash answer.sh ARGS`; a `bash` of ours ahead on their PATH (_shim.py) sends its
standard input, output and error, its cwd, environment and arguments here, and this process runs
`BASH ANSWER ARGS` with them as its own user, then sends back the exit status. So the answer
never runs as the tests' user and cannot reach the tests' own output, which carries the verdict.
"""

import os
import socket
import subprocess
import sys
import threading

PATH = "/usr/local/bin:/usr/bin:/bin"


def _run(request, fds, bash, answer):
    """Run one `bash answer.sh` and send its status back on the request's own reply socket."""
    reply = socket.socket(fileno=fds[3])
    try:
        head, _, rest = request.partition(b"\0\0")
        cwd, *argv = head.decode("utf-8", "surrogateescape").split("\0")
        env = dict(item.split("=", 1) for item in rest.decode("utf-8", "surrogateescape").split("\0") if "=" in item)
        env["PATH"] = PATH
        proc = subprocess.Popen([bash, answer, *argv[1:]], stdin=fds[0], stdout=fds[1], stderr=fds[2], cwd=cwd,
                                env=env)
        for fd in fds[:3]:
            os.close(fd)
        status = proc.wait()
    except (OSError, ValueError) as exc:
        print(f"sandbox: cannot run answer.sh: {exc}", file=sys.stderr)
        status = 127
    try:
        reply.send(str(status).encode())
    except OSError:
        pass
    reply.close()


def main():
    bash, answer = sys.argv[1:3]
    channel = socket.socket(fileno=3)
    while True:
        try:
            request, fds, _, _ = socket.recv_fds(channel, 1 << 20, 4)
        except OSError:
            return
        if not request:
            return
        if len(fds) != 4:
            for fd in fds:
                os.close(fd)
            continue
        threading.Thread(target=_run, args=(request, fds, bash, answer), daemon=True).start()


if __name__ == "__main__":
    main()
