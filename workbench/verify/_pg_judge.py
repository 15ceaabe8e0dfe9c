"""Runs inside the sandbox as the judge's own user (never imported by the app): watches a pygame program.

Usage: python -E -s -u _judge.py CONFIG_JSON TEST_NAME...   (in a folder holding tests.py, maybe)

The program runs in another process, as another user (`_agent.py`); this one never runs its code.
It makes itself non-dumpable, takes the run's nonce (fd 4), lets init start the program (closes fd 6),
then reads what the program's process sends on fd 5: a hello, frames, maybe a crash. Every time is
this process's own clock from the hello; frames closer together than half the capture interval, past
the count bound, or of the wrong size are dropped; anything that is not the protocol ends the
capture. At `seconds` it sends "quit" and waits `quit_s` for the channel to close. Then it runs the
prompt's frame tests (each `test_*` gets `frames`), encodes the frames as one animated image, and
reports on fd 3, each line prefixed with the nonce: `pass NAME` / `fail NAME` / `load-error tests
TYPE`, `visual JSON` (what it saw), `anim-mime MIME`, `anim BASE64` (chunks), and `done`.
"""

import base64
import builtins
import ctypes
import io
import json
import os
import select
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

CFG = json.loads(sys.argv[1])
sys.path[1:1] = CFG["path"]
PR_SET_DUMPABLE = 4
NONCE = ""
HEADER_MAX = 4096


class Broken(Exception):
    """The program's side sent something that is not the protocol."""


class Gone(Exception):
    """The program's side closed the channel."""


def _send(line):
    data = f"{NONCE} {line}\n".encode()
    while data:
        data = data[os.write(3, data):]


class Channel:
    """Messages from the program's process: a JSON header line, then `n` bytes for a frame."""

    def __init__(self, sock):
        self.sock, self.buf = sock, bytearray()

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([self.sock], [], [], left)
        if not ready:
            return False
        try:
            chunk = self.sock.recv(1 << 20)
        except OSError:
            chunk = b""
        if not chunk:
            raise Gone()
        self.buf += chunk
        return True

    def next(self, deadline):
        """The next (header, payload), or None at the deadline; Gone at the end, Broken on nonsense."""
        while True:
            at = self.buf.find(b"\n", 0, HEADER_MAX + 1)
            if at >= 0:
                break
            if len(self.buf) > HEADER_MAX:
                raise Broken("a header longer than the protocol allows")
            if not self._fill(deadline):
                return None
        try:
            header = json.loads(bytes(self.buf[:at]))
        except (ValueError, RecursionError):
            raise Broken("a header that is not JSON") from None
        if not isinstance(header, dict) or not isinstance(header.get("k"), str):
            raise Broken("a header that is not a message")
        n = 0
        if header["k"] == "frame":
            n = header.get("n")
            w, h, big_w, big_h = (header.get(key) for key in ("w", "h", "W", "H"))
            if not all(type(v) is int for v in (n, w, h, big_w, big_h)):
                raise Broken("a frame header without its sizes")
            if not (0 < w <= CFG["side"] and 0 < h <= CFG["side"] and n == w * h * 3
                    and 0 < big_w < 1 << 16 and 0 < big_h < 1 << 16):
                raise Broken("a frame of the wrong size")
        while len(self.buf) < at + 1 + n:
            if not self._fill(deadline + 5.0):  # a frame that was started is read to its end (bounded)
                raise Broken("a frame cut short")
        payload = bytes(self.buf[at + 1: at + 1 + n])
        del self.buf[: at + 1 + n]
        return header, payload


def _when(header, earliest, received):
    """A message's time: the program's own reading of the shared monotonic clock when it flipped (closer to
    the truth than ours when this process waited for a CPU), but never later than we received it, nor
    earlier than the frame before (or the start): a program can move a frame earlier by its delivery delay
    at most, and never make the run longer, faster or more frames."""
    claimed = header.get("at")
    if type(claimed) is not float or claimed != claimed:
        return received
    return min(received, max(earliest, claimed))


def _start():
    """Out of reach first (no ptrace, no /proc/PID/fd), then let init start the program's process."""
    global NONCE
    prctl = ctypes.CDLL(None).prctl
    prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    if prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        os._exit(2)
    os.close(6)
    NONCE = os.read(4, 256).decode().strip()
    os.close(4)
    return Channel(socket.socket(fileno=5))


def watch(channel):
    """Capture: what the program's process did, and its frames as (time, w, h, W, H, RGB bytes)."""
    seen = {"started": False, "ended": None, "frames": 0, "dropped": 0}
    frames = []
    interval = 1.0 / CFG["fps"]
    most = CFG["max_frames"]
    clock = time.monotonic
    t0 = quit_at = None
    began = last = clock()
    try:
        deadline = began + CFG["start_s"]
        while t0 is None:  # the hello: the program is about to run
            got = channel.next(deadline)
            if got is None:
                seen["ended"] = "never-started"
                return seen, frames
            header, _ = got
            if header["k"] == "no-pygame":
                seen.update(ended="no-pygame", why=str(header.get("what", ""))[:300])
                return seen, frames
            if header["k"] != "hello":
                raise Broken("a message before the hello")
            t0 = last = _when(header, began, clock())
            seen.update(started=True, started_at=time.time())  # the wall clock: for figures (benchmarks/visual.py)
        deadline = t0 + CFG["seconds"]
        while True:
            got = channel.next(deadline)
            now = clock() - t0
            if got is None:
                if quit_at is not None:
                    seen.update(ended="no-quit", quit_s=quit_at)
                    return seen, frames
                channel.sock.sendall(b'{"q":"quit"}\n')
                quit_at = now
                deadline = clock() + CFG["quit_s"]
                continue
            header, payload = got
            if header["k"] == "crash":
                seen.update(ended="crash", at_s=round(now, 3), why=str(header.get("what", ""))[:300])
                if quit_at is not None:
                    seen["quit_s"] = quit_at
                return seen, frames
            if header["k"] != "frame":
                raise Broken(f"an unknown message ({str(header['k'])[:20]!r})")
            if quit_at is not None:
                continue  # what it draws after the quit is not part of the run
            at = _when(header, last, t0 + now)
            if len(frames) >= most or (frames and at - last < interval * 0.5):
                seen["dropped"] += 1
                continue
            last = at
            frames.append((round(at - t0, 4), header["w"], header["h"], header["W"], header["H"], payload))
    except Gone:
        now = clock() - t0 if t0 is not None else 0.0
        if t0 is None:
            seen["ended"] = "never-started"
        elif quit_at is not None:
            seen.update(ended="quit", quit_s=quit_at, quit_wait_s=round(now - quit_at, 3))
        else:
            seen.update(ended="self", at_s=round(now, 3))
    except Broken as exc:
        seen.update(ended="broken", why=str(exc), at_s=round(clock() - t0, 3) if t0 is not None else 0.0)
    except OSError as exc:  # the quit could not be sent: the program's side is closing
        seen.update(ended="self", at_s=round(clock() - t0, 3) if t0 is not None else 0.0, why=str(exc))
    return seen, frames


class Frame:
    """One captured frame, for the tests: `t` (seconds since the program started), `rgb` (an H×W×3 uint8
    array, scaled down), `window` (the program's display size), `scale` (frame pixels per window pixel)."""

    def __init__(self, t, rgb, window):
        self.t, self.rgb, self.window = t, rgb, window
        self.scale = rgb.shape[1] / window[0]
        self._masks = {}

    @property
    def image(self):
        """The frame as a PIL image."""
        from PIL import Image

        return Image.fromarray(self.rgb, "RGB")

    def mask(self, colour, tol=40):
        """Where the frame is within `tol` (per channel) of `colour`: an H×W bool array (do not change it)."""
        import numpy as np

        key = (tuple(int(c) for c in colour[:3]), int(tol))
        found = self._masks.get(key)
        if found is None:
            levels = np.arange(256)
            found = None
            for channel, want in enumerate(key[0]):
                hit = (np.abs(levels - want) <= key[1])[self.rgb[:, :, channel]]
                found = hit if found is None else found & hit
            self._masks[key] = found
        return found

    def points(self, colour, tol=40):
        """Window coordinates (x, y arrays, pixel centres) of the pixels of `colour`."""
        import numpy as np

        ys, xs = np.nonzero(self.mask(colour, tol))
        return (xs + 0.5) / self.scale, (ys + 0.5) / self.scale

    def blob(self, colour, tol=40):
        """(x, y, radius) in window coordinates of the pixels of `colour` (their centre, and the radius of a
        disc of their area), or None when there are none."""
        import math

        xs, ys = self.points(colour, tol)
        if len(xs) == 0:
            return None
        return float(xs.mean()), float(ys.mean()), math.sqrt(len(xs) / math.pi) / self.scale

    def __repr__(self):
        return f"<Frame t={self.t:.2f} s {self.rgb.shape[1]}x{self.rgb.shape[0]}>"


class Frames(list):
    """Every captured frame in order; `times`, `window`, `fps` and `seconds` (what the run asked)."""

    def __init__(self, frames, fps, seconds):
        super().__init__(frames)
        self.times = [f.t for f in frames]
        self.window = frames[0].window if frames else (0, 0)
        self.fps, self.seconds = fps, seconds


def _frames_for_tests(captured):
    import numpy as np

    out = [Frame(t, np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3), (big_w, big_h))
           for t, w, h, big_w, big_h, data in captured]
    return Frames(out, CFG["fps"], CFG["seconds"])


def run_tests(names, captured):
    """Each named test, given the frames; results go out as they come."""
    namespace = {"__name__": "tests", "__builtins__": builtins}
    try:
        source = Path("tests.py").read_text(encoding="utf-8")
        frames = _frames_for_tests(captured)
        exec(compile(source, "tests.py", "exec"), namespace)
    except Exception as exc:  # noqa: BLE001
        print("ERROR while running tests.py:", file=sys.stderr)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        _send(f"load-error tests {type(exc).__name__}")
        return
    failed = 0
    for name in names:
        owner, _, method = name.partition(".")
        fn = namespace.get(owner)
        if method and isinstance(fn, type):
            fn = getattr(fn(), method, None)
        try:
            if not callable(fn):
                raise NameError(f"test {name} is not defined")
            fn(frames)
        except BaseException as exc:  # noqa: BLE001 - a test that calls sys.exit fails; it does not end the run
            failed += 1
            print(f"FAILED {name}:", file=sys.stderr)
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next, file=sys.stderr)
            _send(f"fail {name}")
        else:
            _send(f"pass {name}")
    print(f"{len(names) - failed} passed, {failed} failed", file=sys.stderr)


def encode(captured):
    """The frames as one animated WebP (lossless; lossy when that is too big), or None."""
    from PIL import Image

    if not captured:
        return None
    size = (captured[0][1], captured[0][2])
    images = []
    for _t, w, h, _big_w, _big_h, data in captured:
        image = Image.frombytes("RGB", (w, h), data)
        images.append(image if (w, h) == size else image.resize(size, Image.NEAREST))
    times = [c[0] for c in captured]
    last = 1000.0 / CFG["fps"]
    durations = [max(10, round((b - a) * 1000)) for a, b in zip(times, times[1:])] + [round(last)]
    for options in ({"lossless": True, "method": 0}, {"quality": 60, "method": 4}, {"quality": 30, "method": 4}):
        buf = io.BytesIO()
        images[0].save(buf, "WEBP", save_all=True, append_images=images[1:], duration=durations, loop=0,
                       **options)
        if buf.tell() <= CFG["max_bytes"]:
            return buf.getvalue()
    return None


def _preload(tests):
    """Import what comes after the capture while the program runs (the judge waits on a socket meanwhile)."""
    try:
        if tests:
            import numpy  # noqa: F401
        from PIL import Image, WebPImagePlugin  # noqa: F401
    except ImportError:
        pass


def main():
    channel = _start()
    names = sys.argv[2:]
    threading.Thread(target=_preload, args=(bool(names),), daemon=True).start()
    seen, captured = watch(channel)
    try:
        channel.sock.close()
    except OSError:
        pass
    seen["frames"] = len(captured)
    seen["times"] = [c[0] for c in captured]
    if captured:
        seen["window"] = [captured[-1][3], captured[-1][4]]
        seen["size"] = [captured[0][1], captured[0][2]]
        seen["static"] = len(captured) > 1 and all(c[5] == captured[0][5] for c in captured)
    encoded = {}

    def encoding():  # beside the tests: Pillow's encoder and numpy mostly run without the GIL
        began = time.monotonic()
        try:
            encoded["animation"] = encode(captured)
        except Exception as exc:  # noqa: BLE001 - no animation is a missing picture, not a failed run
            seen["encode_error"] = f"{type(exc).__name__}: {exc}"[:200]
        seen["encode_s"] = round(time.monotonic() - began, 3)

    encoder = threading.Thread(target=encoding)
    encoder.start()
    began = time.monotonic()
    if names:
        run_tests(names, captured)
    seen["tests_s"] = round(time.monotonic() - began, 3)
    encoder.join()
    animation = encoded.get("animation")
    _send("visual " + json.dumps(seen, separators=(",", ":")))
    if animation:
        _send("anim-mime image/webp")
        text = base64.b64encode(animation).decode()
        for i in range(0, len(text), 60000):
            _send("anim " + text[i: i + 60000])
    _send("done")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
