"""Reference answers to the graphics prompts, and plausible wrong ones, for tests/test_visual.py.

Each wrong program is its reference with one change (WRONG maps a name to the prompt, the change and the
verdict it must get). Kept as test fixtures only, as tests/answers.py keeps the other prompts' answers.
"""

HEXAGON = """\
import math
import sys

import pygame

WIDTH = HEIGHT = 800
CENTRE = pygame.Vector2(400, 400)
SIDES = 6
RADIUS = 300          # centre to corner
RPM = 12
OMEGA = RPM * 2 * math.pi / 60   # rad/s, counter-clockwise on screen
BALL_R = 15
GRAVITY = pygame.Vector2(0, 900)
RESTITUTION = 0.85
WALL_FRICTION = 0.95
DRAG = 0.1            # per second
DT = 1 / 240


def corners(angle):
    return [CENTRE + RADIUS * pygame.Vector2(math.cos(angle - 2 * math.pi * k / SIDES),
                                            math.sin(angle - 2 * math.pi * k / SIDES)) for k in range(SIDES)]


def step(pos, vel, angle):
    vel = vel + GRAVITY * DT
    vel *= (1 - DRAG * DT)
    pos = pos + vel * DT
    pts = corners(angle)
    for _ in range(3):
        for k in range(SIDES):
            a, b = pts[k], pts[(k + 1) % SIDES]
            edge = b - a
            normal = pygame.Vector2(-edge.y, edge.x).normalize()
            if normal.dot(CENTRE - a) < 0:
                normal = -normal            # pointing inward
            dist = normal.dot(pos - a)
            if dist < BALL_R:
                pos += normal * (BALL_R - dist)
                r = pos - CENTRE
                wall_v = pygame.Vector2(-r.y, r.x) * (-OMEGA)   # screen y is down: ccw on screen
                rel = vel - wall_v
                vn = rel.dot(normal)
                if vn < 0:
                    vt = rel - normal * vn
                    rel = vt * WALL_FRICTION - normal * vn * RESTITUTION
                    vel = rel + wall_v
    return pos, vel


def main():
    pygame.init()
    screen = pygame.display.set_mode((WIDTH, HEIGHT))
    pygame.display.set_caption("Ball in a spinning hexagon")
    clock = pygame.time.Clock()
    pos, vel = pygame.Vector2(CENTRE), pygame.Vector2(0, 0)
    angle = 0.0
    acc = 0.0
    running = True
    while running:
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
                running = False
        acc += min(clock.tick(60) / 1000, 0.25)
        while acc >= DT:
            angle -= OMEGA * DT      # y down: decreasing angle turns counter-clockwise on screen
            pos, vel = step(pos, vel, angle)
            acc -= DT
        screen.fill((0, 0, 0))
        pygame.draw.polygon(screen, (255, 255, 255), corners(angle), 3)
        pygame.draw.circle(screen, (255, 0, 0), pos, BALL_R)
        pygame.display.flip()
    pygame.quit()
    sys.exit()


if __name__ == "__main__":
    main()
"""

PENDULUM = """\
import math
import sys

import pygame

WIDTH = HEIGHT = 600
PIVOT = (300, 200)
L1 = L2 = 120.0
M1 = M2 = 1.0
G = 900.0
DT = 1 / 600


def derivs(s):
    t1, w1, t2, w2 = s
    d = t1 - t2
    den = 2 * M1 + M2 - M2 * math.cos(2 * d)
    a1 = (-G * (2 * M1 + M2) * math.sin(t1) - M2 * G * math.sin(t1 - 2 * t2)
          - 2 * math.sin(d) * M2 * (w2 * w2 * L2 + w1 * w1 * L1 * math.cos(d))) / (L1 * den)
    a2 = (2 * math.sin(d) * (w1 * w1 * L1 * (M1 + M2) + G * (M1 + M2) * math.cos(t1)
                             + w2 * w2 * L2 * M2 * math.cos(d))) / (L2 * den)
    return (w1, a1, w2, a2)


def rk4(s, h):
    k1 = derivs(s)
    k2 = derivs([x + h / 2 * k for x, k in zip(s, k1)])
    k3 = derivs([x + h / 2 * k for x, k in zip(s, k2)])
    k4 = derivs([x + h * k for x, k in zip(s, k3)])
    return [x + h / 6 * (a + 2 * b + 2 * c + d) for x, a, b, c, d in zip(s, k1, k2, k3, k4)]


def positions(s):
    t1, _, t2, _ = s
    x1 = PIVOT[0] + L1 * math.sin(t1)
    y1 = PIVOT[1] + L1 * math.cos(t1)
    return (x1, y1), (x1 + L2 * math.sin(t2), y1 + L2 * math.cos(t2))


def main():
    pygame.init()
    screen = pygame.display.set_mode((WIDTH, HEIGHT))
    pygame.display.set_caption("Double pendulum")
    clock = pygame.time.Clock()
    state = [math.radians(120), 0.0, math.radians(150), 0.0]
    acc = 0.0
    running = True
    while running:
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
                running = False
        acc += min(clock.tick(60) / 1000, 0.25)
        while acc >= DT:
            state = rk4(state, DT)
            acc -= DT
        (x1, y1), (x2, y2) = positions(state)
        screen.fill((0, 0, 0))
        pygame.draw.line(screen, (255, 255, 255), PIVOT, (x1, y1), 2)
        pygame.draw.line(screen, (255, 255, 255), (x1, y1), (x2, y2), 2)
        pygame.draw.circle(screen, (255, 255, 255), PIVOT, 6)
        pygame.draw.circle(screen, (0, 0, 255), (x1, y1), 12)
        pygame.draw.circle(screen, (255, 0, 0), (x2, y2), 12)
        pygame.display.flip()
    pygame.quit()
    sys.exit()


if __name__ == "__main__":
    main()
"""

FOUNTAIN = """\
import math
import random
import sys

import pygame

WIDTH = HEIGHT = 600
EMITTER = (300, 560)
RATE = 200            # particles per second
GRAVITY = 400.0
LIFETIME = 2.5
DT = 1 / 120


def main():
    pygame.init()
    screen = pygame.display.set_mode((WIDTH, HEIGHT))
    pygame.display.set_caption("Particle fountain")
    clock = pygame.time.Clock()
    particles = []        # [x, y, vx, vy, age]
    owed = 0.0
    acc = 0.0
    running = True
    while running:
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
                running = False
        acc += min(clock.tick(60) / 1000, 0.25)
        while acc >= DT:
            acc -= DT
            owed += RATE * DT
            while owed >= 1:
                owed -= 1
                speed = random.uniform(350, 450)
                angle = math.radians(random.uniform(-20, 20))
                particles.append([EMITTER[0], EMITTER[1], speed * math.sin(angle), -speed * math.cos(angle), 0.0])
            for p in particles:
                p[3] += GRAVITY * DT
                p[0] += p[2] * DT
                p[1] += p[3] * DT
                p[4] += DT
            particles = [p for p in particles if p[4] < LIFETIME and p[1] < HEIGHT + 10]
        screen.fill((0, 0, 0))
        for x, y, _vx, _vy, _age in particles:
            pygame.draw.circle(screen, (255, 255, 0), (x, y), 3)
        pygame.display.flip()
    pygame.quit()
    sys.exit()


if __name__ == "__main__":
    main()
"""

SNAKE = """\
import random
import sys
from collections import deque

import pygame

CELL, COLS, ROWS = 30, 20, 20
STEP = 0.1          # seconds per move
BODY, HEAD, FOOD = (0, 160, 0), (150, 255, 150), (255, 0, 0)


def free_cell(snake):
    taken = set(snake)
    return random.choice([(c, r) for c in range(COLS) for r in range(ROWS) if (c, r) not in taken])


def reachable(start, snake):
    blocked = set(list(snake)[:-1])
    seen, todo = {start}, [start]
    while todo:
        c, r = todo.pop()
        for n in ((c + 1, r), (c - 1, r), (c, r + 1), (c, r - 1)):
            if 0 <= n[0] < COLS and 0 <= n[1] < ROWS and n not in blocked and n not in seen:
                seen.add(n)
                todo.append(n)
    return len(seen)


def choose(snake, food):
    head = snake[0]
    options = []
    for d in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        n = (head[0] + d[0], head[1] + d[1])
        if not (0 <= n[0] < COLS and 0 <= n[1] < ROWS) or n in list(snake)[:-1]:
            continue
        room = reachable(n, snake)
        dist = abs(n[0] - food[0]) + abs(n[1] - food[1])
        options.append((room < len(snake), dist, d))
    return min(options)[2] if options else (1, 0)


def new_game():
    snake = deque([(10, 10), (9, 10), (8, 10)])
    return snake, free_cell(snake)


def main():
    pygame.init()
    screen = pygame.display.set_mode((COLS * CELL, ROWS * CELL))
    pygame.display.set_caption("Snake")
    clock = pygame.time.Clock()
    snake, food = new_game()
    acc = 0.0
    running = True
    while running:
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
                running = False
        acc += min(clock.tick(60) / 1000, 0.25)
        while acc >= STEP:
            acc -= STEP
            d = choose(snake, food)
            head = (snake[0][0] + d[0], snake[0][1] + d[1])
            if not (0 <= head[0] < COLS and 0 <= head[1] < ROWS) or head in list(snake)[:-1]:
                snake, food = new_game()
                continue
            snake.appendleft(head)
            if head == food:
                food = free_cell(snake)
            else:
                snake.pop()
        screen.fill((0, 0, 0))
        pygame.draw.rect(screen, FOOD, (food[0] * CELL, food[1] * CELL, CELL, CELL))
        for i, (c, r) in enumerate(snake):
            pygame.draw.rect(screen, HEAD if i == 0 else BODY, (c * CELL, r * CELL, CELL, CELL))
        pygame.display.flip()
    pygame.quit()
    sys.exit()


if __name__ == "__main__":
    main()
"""

REFERENCES = {"hexagon-ball": HEXAGON, "double-pendulum": PENDULUM, "particle-fountain": FOUNTAIN,
              "snake-autoplay": SNAKE}

NO_QUIT = ("event.type == pygame.QUIT or ", "")
"""Only Escape ends it: the window's close (pygame.QUIT) is ignored."""

WRONG = {
    # name: (prompt, (text in the reference, its replacement), outcome, what the note must say)
    "hexagon-escapes": ("hexagon-ball", ("    pts = corners(angle)\n", "    pts = corners(0.0)\n"),
                        "fail", "test_ball_stays_inside_the_polygon"),  # collides with the unturned polygon
    "hexagon-still": ("hexagon-ball", ("angle -= OMEGA * DT", "angle -= 0 * DT"),
                      "fail", "test_polygon_spins_at_12_rpm"),
    "hexagon-too-fast": ("hexagon-ball", ("OMEGA = RPM * 2 * math.pi / 60", "OMEGA = RPM / 6"),
                         "fail", "test_polygon_spins_at_12_rpm"),  # rpm read as degrees per frame-ish
    "hexagon-energy": ("hexagon-ball", ("RESTITUTION = 0.85", "RESTITUTION = 1.15"),
                       "fail", "test_ball_gains_no_energy"),
    "hexagon-crash": ("hexagon-ball", ("                if vn < 0:\n",
                                       "                if vn < 0:\n                    PALETTE[BOUNCES % len(PALETTE)]\n"),
                      "error", "ZeroDivisionError: integer modulo by zero"),  # an empty palette, at the first bounce
    "hexagon-never-quits": ("hexagon-ball", NO_QUIT, "fail", "did not quit within 1 s"),
    "pendulum-euler": ("double-pendulum", ("            state = rk4(state, DT)\n            acc -= DT\n",
                                           "            acc -= DT\n        state = [x + k / 60 for x, k in zip(state, derivs(state))]\n"),
                       "fail", "test_no_energy_from_nowhere"),  # explicit Euler, one step a frame
    "pendulum-second-rod": ("double-pendulum", ("(x1 + L2 * math.sin(t2), y1 + L2 * math.cos(t2))",
                                                "(PIVOT[0] + L2 * math.sin(t2), PIVOT[1] + L2 * math.cos(t2))"),
                            "fail", "test_rods_keep_their_length"),
    "pendulum-frozen": ("double-pendulum", ("            state = rk4(state, DT)\n", "            pass\n"),
                        "fail", "static (every frame the same)"),
    "pendulum-never-quits": ("double-pendulum", NO_QUIT, "fail", "did not quit within 1 s"),
    "fountain-no-gravity": ("particle-fountain", ("GRAVITY = 400.0", "GRAVITY = 0.0"),
                            "fail", "test_nothing_rises_above_what_its_speed_allows"),
    "fountain-one-burst": ("particle-fountain", ("            owed += RATE * DT\n",
                                                 "            owed += RATE * 2.5 if not particles and not owed else 0\n"),
                           "fail", "test_particles_keep_coming_from_the_emitter"),
    "fountain-fade-crash": ("particle-fountain", ("for x, y, _vx, _vy, _age in particles:\n            pygame.draw.circle(screen, (255, 255, 0), (x, y), 3)",
                                                  "for x, y, _vx, _vy, age in particles:\n            fade = int(255 * (1 - age / 2.0))\n            pygame.draw.circle(screen, (fade, fade, 0), (x, y), 3)"),
                            "error", "ValueError: invalid color"),  # the fade assumes a 2 s lifetime
    "snake-never-eats": ("snake-autoplay", ("        dist = abs(n[0] - food[0]) + abs(n[1] - food[1])\n",
                                            "        dist = -room\n"),
                         "fail", "test_snake_eats_and_grows"),  # wanders where there is most room
    "snake-frame-speed": ("snake-autoplay", ("        while acc >= STEP:\n", "        for _ in range(1):\n"),
                          "fail", "test_snake_moves_ten_cells_a_second"),  # a move every frame
    "snake-grow-crash": ("snake-autoplay", ("                food = free_cell(snake)\n",
                                            "                snake.append(snake[len(snake)])\n"),
                         "error", "IndexError"),
}


def wrong(name: str) -> tuple[str, str]:
    """(prompt, program) of a wrong program."""
    prompt, (old, new), _outcome, _note = WRONG[name]
    source = REFERENCES[prompt]
    assert source.count(old) == 1, (name, old)
    code = source.replace(old, new)
    if name == "hexagon-crash":
        code = code.replace("DT = 1 / 240\n", "DT = 1 / 240\nPALETTE = []\nBOUNCES = 0\n")
    return prompt, code


HOSTILE = {
    # name: (program, outcome, what the note must say)
    "never-draws": ("""
import pygame
pygame.init()
screen = pygame.display.set_mode((400, 400))
running = True
while running:
    for event in pygame.event.get():
        running = event.type != pygame.QUIT and running
    screen.fill((255, 0, 0))
    pygame.time.wait(10)
""", "fail", "no frames (never drew)"),
    "ignores-quit": ("""
import pygame
pygame.init()
screen = pygame.display.set_mode((400, 400))
n = 0
while True:
    pygame.event.get()
    screen.fill((n % 256, 0, 0))
    n += 1
    pygame.display.flip()
    pygame.time.wait(10)
""", "fail", "did not quit within 1 s"),
    "10000-fps": ("""
import pygame
pygame.init()
screen = pygame.display.set_mode((800, 800))
n, running = 0, True
while running:
    for event in pygame.event.get():
        running = event.type != pygame.QUIT
    screen.fill((n % 256, 0, 0))
    n += 1
    pygame.display.flip()
print("flips", n)
""", "no-tests", "quit cleanly"),
    "huge-surface": ("""
import pygame
pygame.init()
screen = pygame.display.set_mode((30000, 30000))
""", "error", "error: Out of memory"),
    "huge-allocation": ("""
import pygame
pygame.init()
screen = pygame.display.set_mode((400, 400))
pygame.display.flip()
hoard = bytearray(8 << 30)
""", "error", "MemoryError"),
    "fork-bomb": ("""
import os, pygame
pygame.init()
screen = pygame.display.set_mode((400, 400))
pygame.display.flip()
while True:
    os.fork()
""", "error", "crashed at"),
    "forks-and-leaves": ("""
import os, time, pygame
if os.fork() == 0:
    time.sleep(60)          # a child that holds on to everything, and outlives its parent
    os._exit(0)
pygame.init()
screen = pygame.display.set_mode((400, 400))
n, running = 0, True
while running:
    for event in pygame.event.get():
        running = event.type != pygame.QUIT
    screen.fill((n % 256, 0, 0))
    n += 1
    pygame.display.flip()
    pygame.time.wait(10)
""", "fail", "did not quit within 1 s"),
    "network": ("""
import socket, pygame
pygame.init()
screen = pygame.display.set_mode((400, 400))
pygame.display.flip()
socket.create_connection(("1.1.1.1", 80), timeout=2)
""", "error", "OSError: [Errno 101] Network is unreachable"),
    "writes-outside": ("""
import os, pygame
pygame.init()
screen = pygame.display.set_mode((400, 400))
pygame.display.flip()
for where in (WHERE, "/etc/escaped", os.path.join(os.path.dirname(pygame.__file__), "escaped")):
    try:
        open(where, "w").write("escaped")
        print("WROTE", where)
    except OSError as exc:
        print("refused", where, exc.strerror)
open(os.path.join(os.path.dirname(pygame.__file__), "escaped"), "w")
""", "error", "Read-only file system"),
    "forges-frames": ("""
import json, os, socket, time
import pygame
channel = socket.socket(fileno=3)
for i in range(200):   # frames it never drew, as fast as it can, then it hangs up and lingers
    data = bytes([i % 256]) * (400 * 400 * 3)
    channel.sendall(json.dumps({"k": "frame", "w": 400, "h": 400, "W": 800, "H": 800, "n": len(data)}).encode()
                    + b"\\n" + data)
os.close(3)
time.sleep(60)
""", "fail", "did not quit within 1 s (closed its channel, kept running)"),
}
