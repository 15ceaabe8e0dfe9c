"""Runs inside the sandbox as the answer's own user (never imported by the app): a pygame program, headless.

Usage: python -E -s -u _agent.py CONFIG_JSON   (in a folder holding answer.py; fd 3 a socket to the judge)

Sets SDL's dummy video and audio drivers, imports pygame from the folders CONFIG names, wraps
`pygame.display.flip` and `pygame.display.update` so that at most `fps` times a second the display
surface is scaled down (nearest neighbour, longest side at most `side`) and sent to the judge's
process, says hello, and runs answer.py as `__main__`. A thread waits for the judge's "quit" and posts
pygame's QUIT event. An exception that escapes the program is reported ("crash") and ends the process
with status 1; SystemExit and a normal end are left to Python, as when the program runs on its own.

Nothing here is trusted by the judge: the program runs in this very process and could send anything
on fd 3. The judge stamps the times, bounds the count and the sizes, and the sandbox's init reports
how this process really ended (see visual.py).
"""

import builtins
import json
import os
import socket
import sys
import threading
import time
import traceback
import types

CFG = json.loads(sys.argv[1])
os.environ.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")
sys.path[1:1] = CFG["path"]
SOCK = socket.socket(fileno=3)
_WLOCK = threading.Lock()
_DEAD = []


def send(header, payload=b""):
    """One message to the judge: a JSON line, then `payload`'s bytes; quietly nothing once the judge is gone."""
    if _DEAD:
        return
    data = json.dumps(header, separators=(",", ":")).encode() + b"\n"
    with _WLOCK:
        try:
            SOCK.sendall(data + payload if len(payload) < 65536 else data)
            if len(payload) >= 65536:
                SOCK.sendall(payload)
        except OSError:
            _DEAD.append(True)


def main():
    import pygame

    interval = 1.0 / CFG["fps"]
    side = CFG["side"]
    due = [0.0]
    flip, update = pygame.display.flip, pygame.display.update
    scale, get_surface, tobytes = pygame.transform.scale, pygame.display.get_surface, pygame.image.tobytes

    def capture():
        now = time.monotonic()
        if now < due[0] or _DEAD:
            return
        due[0] = max(due[0] + interval, now - interval)  # on a fixed grid: on average `fps` a second
        while due[0] <= now:
            due[0] += interval
        try:
            surface = get_surface()
            if surface is None:
                return
            width, height = surface.get_size()
            if width < 1 or height < 1:
                return
            ratio = min(1.0, side / max(width, height))
            w, h = max(1, round(width * ratio)), max(1, round(height * ratio))
            small = surface if (w, h) == (width, height) else scale(surface, (w, h))
            data = tobytes(small, "RGB")
        except Exception:  # noqa: BLE001 - a surface we cannot read is no frame, not the program's crash
            return
        send({"k": "frame", "w": w, "h": h, "W": width, "H": height, "n": len(data), "at": now}, data)

    def flip_and_capture(*args, **kwargs):
        result = flip(*args, **kwargs)
        capture()
        return result

    def update_and_capture(*args, **kwargs):
        result = update(*args, **kwargs)
        capture()
        return result

    pygame.display.flip = flip_and_capture
    pygame.display.update = update_and_capture

    def listen():
        stream = SOCK.makefile("rb")
        for line in stream:
            if line.strip() == b'{"q":"quit"}':
                try:
                    pygame.event.post(pygame.event.Event(pygame.QUIT))
                except Exception:  # noqa: BLE001 - no display yet: nothing to post to
                    pass
        _DEAD.append(True)

    threading.Thread(target=listen, daemon=True, name="workbench-quit").start()
    module = types.ModuleType("__main__")
    module.__file__ = os.path.abspath("answer.py")
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    sys.argv = ["answer.py"]
    send({"k": "hello", "at": time.monotonic()})
    try:
        with open("answer.py", encoding="utf-8") as f:
            code = compile(f.read(), "answer.py", "exec")
        exec(code, module.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt and friends end the program as a crash too
        send({"k": "crash", "what": f"{type(exc).__name__}: {exc}"[:300].rstrip(": ")})
        sys.stdout.flush()
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next, file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    try:
        main()
    except ImportError as exc:  # pygame itself would not load here
        send({"k": "no-pygame", "what": f"{type(exc).__name__}: {exc}"[:300]})
        print(f"pygame did not load in the sandbox: {exc}", file=sys.stderr)
        os._exit(3)
