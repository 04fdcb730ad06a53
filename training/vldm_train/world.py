"""Procedural forward-driving world: the reference pack's training and evaluation data.

A drive is a pure function of its seed: a road seen from a car in perspective (lane markings and
ground bands that move toward the camera, curvature that changes along the road), roadside trees
and lamp posts, other cars in three lanes at their own speeds (ahead in our direction, oncoming on
the left), a sky, and day or night lighting (night: dark sky, headlight cone, glowing lamps and car
lights). Labels follow the paper's RDS data: day/night and clear/crowded (crowded drives have many
cars, clear drives none or one far away). Frames are rendered at 256×512 and area-downsampled 4× to
the 64×128 base. Speed, curvature and car motion vary per drive and over time, so consecutive
frames are related by motion that a model has to learn.

Times are in video frames at 24 fps; keyframes are every 16th frame (1.5 fps).
"""

import math

import numpy as np

FPS = 24
HI_H, HI_W = 256, 512
BASE_H, BASE_W = 64, 128
FOCAL = 300.0  # pixels at 256×512
HORIZON = 100.0  # row of the horizon at 256×512
CAM_HEIGHT = 1.4  # metres
LANE = 3.5
ROAD_HALF = 5.25  # three lanes: oncoming (−3.5), middle (0), ours (+3.5)
FAR = 140.0  # metres drawn
LABEL_NAMES = ("day", "night", "clear", "crowded")


class Drive:
    """One drive: all parameters drawn from `seed`; `render(frame)` gives a 256×512×3 uint8 image."""

    def __init__(self, seed, night=None, crowded=None):
        rng = np.random.default_rng(seed)
        self.night = bool(rng.random() < 0.5) if night is None else bool(night)
        self.crowded = bool(rng.random() < 0.5) if crowded is None else bool(crowded)
        self.v0 = rng.uniform(7.0, 15.0)  # ego speed m/s
        self.dv = rng.uniform(0.0, 3.0)
        self.v_w = rng.uniform(0.1, 0.4)
        self.v_ph = rng.uniform(0, 2 * math.pi)
        self.s0 = rng.uniform(0, 5000)
        self.k_amp = (rng.uniform(0.0, 0.006), rng.uniform(0.0, 0.003))
        self.k_len = (rng.uniform(150, 400), rng.uniform(60, 150))
        self.k_ph = (rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi))
        self.sway = rng.uniform(0.0, 0.3)
        self.light = rng.uniform(0.8, 1.1)
        self.tint = rng.uniform(-0.08, 0.08, size=3)
        self.grass = np.array([0.22, 0.45, 0.16]) + rng.uniform(-0.06, 0.06, size=3)
        self.asphalt = rng.uniform(0.30, 0.42)
        self.sky_top = np.array([0.25, 0.45, 0.85]) + rng.uniform(-0.08, 0.08, size=3)
        self.hills = rng.uniform(0, 1, size=6)
        self.obj_seed = int(rng.integers(1 << 31))
        self.cars = self._make_cars(rng)

    # Ego motion: speed v(t) = v0 + dv·sin(w·t + φ) (t in seconds), position s(t) its integral.
    def position(self, frame):
        t = frame / FPS
        return self.s0 + self.v0 * t - self.dv / self.v_w * (math.cos(self.v_w * t + self.v_ph) - math.cos(self.v_ph))

    def curvature(self, s):
        return sum(a * math.sin(s / L + p) for a, L, p in zip(self.k_amp, self.k_len, self.k_ph))

    def _make_cars(self, rng):
        cars = []
        if not self.crowded:
            if rng.random() < 0.5:
                cars.append(self._car(rng, 0.0, rng.uniform(60, 120), self.v0 + rng.uniform(-1, 1)))
            return cars
        span = (-400.0, 700.0)  # world positions relative to s0: covers any clip we render
        for lane, spacing, rel in ((-LANE, 20.0, None), (0.0, 20.0, (-3.0, 3.0)), (LANE, 28.0, (-1.0, 3.0))):
            p = span[0] + rng.uniform(0, spacing)
            while p < span[1]:
                if rel is None:
                    v = -rng.uniform(8.0, 14.0)  # oncoming
                else:
                    v = self.v0 + rng.uniform(*rel)
                cars.append(self._car(rng, lane, p, v))
                p += spacing * rng.uniform(0.6, 1.5)
        return cars

    def _car(self, rng, lane, p, v):
        palette = np.array([[0.8, 0.1, 0.1], [0.9, 0.9, 0.9], [0.1, 0.1, 0.12], [0.15, 0.3, 0.8],
                            [0.85, 0.75, 0.2], [0.5, 0.5, 0.55], [0.2, 0.55, 0.3]])
        return {
            "lane": lane,
            "p": self.s0 + p,
            "v": v,
            "color": palette[rng.integers(len(palette))] * rng.uniform(0.8, 1.0),
            "width": rng.uniform(1.7, 2.0),
            "height": rng.uniform(1.3, 1.8),
        }

    def labels(self):
        return np.array([not self.night, self.night, not self.crowded, self.crowded], dtype=np.float32)

    def render(self, frame):
        """The frame at video frame index `frame` (float allowed), 256×512×3 uint8."""
        return (np.clip(self._render(frame), 0, 1) * 255 + 0.5).astype(np.uint8)

    def render_base(self, frame):
        return downsample(self.render(frame))

    def _render(self, frame):
        H, W = HI_H, HI_W
        s = self.position(frame)
        k = self.curvature(s + 30.0)
        t = frame / FPS
        x_cam = LANE + self.sway * math.sin(0.7 * t + self.k_ph[0])
        img = np.empty((H, W, 3), dtype=np.float32)
        night = self.night
        # Sky and distant hills, shifted sideways with the curvature ahead (the road turns under them).
        rows = np.arange(H, dtype=np.float32)
        hor = int(HORIZON)
        sky_frac = (rows[:hor] / HORIZON)[:, None]
        if night:
            top, bot = np.array([0.02, 0.02, 0.06]), np.array([0.08, 0.08, 0.16])
        else:
            top, bot = self.sky_top, np.array([0.75, 0.82, 0.92])
        img[:hor] = (top * (1 - sky_frac) + bot * sky_frac)[:, None, :]
        cols = np.arange(W, dtype=np.float32)
        f32 = np.float32
        shift = -k * 6000.0
        hill = HORIZON - 6 - 10 * (
            self.hills[0] * np.sin((cols + shift) / 53.0 + self.hills[1] * 6)
            + self.hills[2] * np.sin((cols + shift) / 23.0 + self.hills[3] * 6)
            + 0.5 * self.hills[4]
        )
        hill_mask = rows[:hor, None] > hill[None, :]
        hill_col = np.array([0.03, 0.05, 0.06]) if night else np.array([0.35, 0.45, 0.5])
        img[:hor][hill_mask] = hill_col
        # Ground: per-pixel depth z and lateral offset X from the road centre.
        gy = rows[hor:] - np.float32(HORIZON - 0.5)
        z = (f32(FOCAL * CAM_HEIGHT) / gy)[:, None]
        xw = (cols[None, :] - f32(W / 2 - 0.5)) * (z / f32(FOCAL)) + f32(x_cam) - f32(0.5 * k) * z * z
        L = z + f32(s % 2400.0)  # longitudinal road coordinate: markings are fixed in it, so they move toward us
        ax = np.abs(xw)
        band = ((L % 8.0) < 4.0).astype(np.float32)  # [rows, 1]: bands across the ground
        road = (ax < ROAD_HALF)[..., None]
        grass = (self.grass.astype(np.float32) * (0.9 + 0.1 * band)[..., None])
        asph = (np.array([1.0, 1.0, 1.03], np.float32) * (self.asphalt * (0.96 + 0.04 * band))[..., None])
        ground = np.where(road, asph, grass)
        paint = np.abs(ax - ROAD_HALF + 0.2) < 0.13  # solid edge lines
        paint |= (np.abs(xw - LANE / 2) < 0.1) & ((L % 12.0) < 4.0)  # dashed line: our lane | middle lane
        paint |= np.abs(xw + LANE / 2) < 0.09  # solid centre line to the oncoming lane
        ground = np.where(paint[..., None], np.array([0.92, 0.92, 0.85], np.float32), ground)
        if night:
            # Headlight cone on the road ahead, fading with depth; everything else is dark.
            lat = np.abs(xw - x_cam)
            cone = np.exp(-((lat / (1.2 + 0.08 * z)) ** 2)) * np.exp(-z / 25.0)
            ground = ground * (0.12 + 1.1 * cone)[..., None]
        fog = np.exp(-z / f32(90.0))[..., None]
        far_col = bot if not night else np.array([0.03, 0.03, 0.06])
        ground = ground * fog + far_col.astype(np.float32) * (1 - fog)
        img[hor:] = ground
        # Sprites, far to near: roadside trees and lamps, and cars.
        sprites = self._roadside(s) + self._car_sprites(frame, s)
        sprites.sort(key=lambda o: -o[0])
        for z_o, x_o, w_o, h_o, kind, col in sprites:
            draw_sprite(img, self, z_o, x_o, w_o, h_o, kind, col, k, x_cam)
        if night:
            return img  # night lighting is applied per surface (headlight cone, lamps, car lights)
        return img * self.light + self.tint

    def _roadside(self, s):
        out = []
        spacing = 18.0
        first = math.floor((s + 2.0) / spacing)
        last = math.floor((s + FAR) / spacing)
        for i in range(first, last + 1):
            r = np.random.default_rng((self.obj_seed, i & 0x7FFFFFFF))
            z = i * spacing + r.uniform(0, 10.0) - s
            if z < 2.0 or z > FAR:
                continue
            side = 1 if r.random() < 0.5 else -1
            kind = "lamp" if r.random() < 0.35 else "tree"
            x = side * (ROAD_HALF + r.uniform(1.5, 5.0))
            if kind == "tree":
                col = np.array([0.1, 0.35, 0.12]) * r.uniform(0.7, 1.2)
                out.append((z, x, r.uniform(1.6, 3.0), r.uniform(3.5, 7.0), "tree", col))
            else:
                out.append((z, side * (ROAD_HALF + 0.8), 0.25, 6.0, "lamp", np.array([0.5, 0.5, 0.5])))
        return out

    def _car_sprites(self, frame, s):
        t = frame / FPS
        out = []
        for c in self.cars:
            z = c["p"] + c["v"] * t - s
            if 3.0 < z < FAR:
                kind = "oncoming" if c["v"] < 0 else "car"
                out.append((z, c["lane"], c["width"], c["height"], kind, c["color"]))
        return out


def _project(z, x_world, x_cam, k):
    """Screen column at 256×512 of road-coordinate lateral `x_world` at depth z."""
    return HI_W / 2 + FOCAL * (x_world - x_cam + 0.5 * k * z * z) / z


def _fill(img, v0, v1, u0, u1, col, alpha=1.0):
    H, W = img.shape[:2]
    a, b = max(int(round(v0)), 0), min(int(round(v1)), H)
    c, d = max(int(round(u0)), 0), min(int(round(u1)), W)
    if a < b and c < d:
        if alpha >= 1.0:
            img[a:b, c:d] = col
        else:
            img[a:b, c:d] = img[a:b, c:d] * (1 - alpha) + np.asarray(col) * alpha


def _glow(img, v, u, radius, col, strength):
    H, W = img.shape[:2]
    r = int(math.ceil(radius * 2.5))
    a, b = max(int(v) - r, 0), min(int(v) + r + 1, H)
    c, d = max(int(u) - r, 0), min(int(u) + r + 1, W)
    if a >= b or c >= d:
        return
    yy, xx = np.mgrid[a:b, c:d]
    g = np.exp(-((yy - v) ** 2 + (xx - u) ** 2) / (2 * radius * radius)) * strength
    img[a:b, c:d] = img[a:b, c:d] + g[..., None] * np.asarray(col)


def draw_sprite(img, drive, z, x, w, h, kind, col, k, x_cam):
    """Draw one object standing on the ground at depth z, lateral x (road coordinates)."""
    scale = FOCAL / z
    u = _project(z, x, x_cam, k)
    v_ground = HORIZON + FOCAL * CAM_HEIGHT / z
    night = drive.night
    dim = 1.0
    if night:
        dim = 0.15 + 0.9 * math.exp(-z / 25.0) * math.exp(-((x - x_cam) / (1.5 + 0.08 * z)) ** 2)
    fog = math.exp(-z / 90.0)
    far = np.array([0.75, 0.82, 0.92]) if not night else np.array([0.03, 0.03, 0.06])

    def shade(c):
        return np.asarray(c) * dim * fog + far * (1 - fog)

    if kind == "tree":
        _fill(img, v_ground - 0.45 * h * scale, v_ground, u - 0.12 * scale, u + 0.12 * scale, shade([0.3, 0.2, 0.1]))
        _fill(img, v_ground - h * scale, v_ground - 0.35 * h * scale, u - 0.5 * w * scale, u + 0.5 * w * scale,
              shade(col))
    elif kind == "lamp":
        _fill(img, v_ground - h * scale, v_ground, u - 0.5 * w * scale, u + 0.5 * w * scale, shade(col))
        if night:
            _glow(img, v_ground - h * scale, u, max(0.6 * scale, 1.2), [1.0, 0.85, 0.5], 0.9 * fog + 0.1)
    else:
        body = shade(col)
        top = v_ground - h * scale
        _fill(img, v_ground - 0.25 * scale, v_ground, u - 0.5 * w * scale, u + 0.5 * w * scale, shade([0.05] * 3))
        _fill(img, top + 0.35 * h * scale, v_ground - 0.2 * scale, u - 0.5 * w * scale, u + 0.5 * w * scale, body)
        _fill(img, top, top + 0.38 * h * scale, u - 0.4 * w * scale, u + 0.4 * w * scale, body * 0.8)
        _fill(img, top + 0.06 * h * scale, top + 0.32 * h * scale, u - 0.33 * w * scale, u + 0.33 * w * scale,
              shade([0.15, 0.2, 0.25]))
        lv = top + 0.55 * h * scale
        lc = [1.0, 0.95, 0.8] if kind == "oncoming" else [1.0, 0.1, 0.05]
        for side in (-1, 1):
            lu = u + side * 0.38 * w * scale
            _fill(img, lv - 0.08 * scale, lv + 0.08 * scale, lu - 0.1 * scale, lu + 0.1 * scale,
                  np.asarray(lc) * (1.0 if night else 0.8))
            if night:
                _glow(img, lv, lu, max(0.3 * scale, 1.0), lc, 1.0 if kind == "oncoming" else 0.7)


def downsample(img, factor=4):
    """Area average (box filter) by `factor`: the 256×512 → 64×128 base, uint8 in and out."""
    h, w, c = img.shape
    x = img.reshape(h // factor, factor, w // factor, factor, c).astype(np.float32).mean(axis=(1, 3))
    return (x + 0.5).astype(np.uint8)
