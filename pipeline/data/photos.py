"""Still photos with object masks made into short training clips (MaskTrack, RGMP, STM, XMem).

Thirty training videos are few: a parent trained on them longer learns their appearance
(README, "The shipped parent network"). Photos of other objects add appearance variety the
way the propagation methods above pretrain before video. The photos enter through the
pipeline as DAVIS does: ``download.photos`` names a folder, the download stage copies
it into the DAVIS root as ``Photos/`` (so DVC tracks it with ``data/davis``), decode
stores it in the cache (``photos.npz`` and ``photos.parquet``), and pretraining draws a share
``pretrain.photo_prob`` of its clips from it (:func:`photo_clip`).

A folder of photos: ``<set>/images/<name>.jpg`` beside ``<set>/masks/<name>.png`` (any number
of sets), or ``images/`` and ``masks/`` directly; a mask's nonzero pixels are the object
(``../shared/data/static-images`` is laid out so).

A clip is one photo moved over ``clip_len`` frames, in one of two ways drawn per clip:

* *whole*: the photo moves as the camera would (a smooth affine path: shift, zoom, rotation),
  with an elastic deformation that changes over the clip, object and background together;
* *pasted*: the object is cut out and moved along its own path over another photo of the set,
  which moves along a gentler one: the object and the background move apart, and the
  background is a scene the object never was in, with other salient things in it
  (distractors). The cut-out's edge is feathered over a pixel or two so that a hard paste
  boundary does not give the object away.

A fifth of the clips move fast (paths several times longer).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from pipeline.data.crops import bounds, crop_matrix
from pipeline.data.davis import VOID, DavisError, read_frame

FOLDER = "Photos"  # inside the installed DAVIS root
NPZ, INDEX = "photos.npz", "photos.parquet"  # inside the cache
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_SIDE = 352  # photos are stored with their longer side at most this


def find_pairs(root: Path) -> list[tuple[Path, Path]]:
    """(image, mask) paths of a photos folder, sorted; every image needs its mask."""
    root = Path(root)
    if not root.is_dir():
        raise DavisError(f"{root}: download.photos is not a folder; set it to a folder "
                         "of <set>/images/*.jpg and <set>/masks/*.png")
    pairs = []
    for images in sorted(p for p in [root / "images", *root.glob("*/images")] if p.is_dir()):
        for image in sorted(images.iterdir()):
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            mask = images.parent / "masks" / f"{image.stem}.png"
            if not mask.is_file():
                raise DavisError(f"{image}: no mask {mask}; add it, or remove the photo")
            pairs.append((image, mask))
    if not pairs:
        raise DavisError(f"{root}: no photos found (expected <set>/images/*.jpg with "
                         "<set>/masks/*.png, or images/ and masks/); fix download.photos")
    return pairs


def install_photos(source: Path, davis_root: Path) -> None:
    """Copy the photos and masks of ``source`` into ``davis_root/Photos`` (checked)."""
    pairs = find_pairs(source)
    dest = Path(davis_root) / FOLDER
    for image, mask in pairs:
        for path in (image, mask):
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def read_photo_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A binary (H, W) uint8 object mask of the photo of ``size`` (W, H)."""
    try:
        with Image.open(path) as image:
            image.load()
            mask = (np.asarray(image.convert("L")) > 0).astype(np.uint8)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise DavisError(f"{path}: cannot decode the mask ({exc}); the file is corrupt") from None
    if mask.shape[::-1] != tuple(size):
        raise DavisError(f"{path}: mask size {mask.shape[1]}x{mask.shape[0]} differs from its "
                         f"photo's {size[0]}x{size[1]}; masks must match their photos")
    if not mask.any():
        raise DavisError(f"{path}: empty mask (no object); remove this photo and its mask")
    return mask


def _fit(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = mask.shape
    scale = MAX_SIDE / max(h, w)
    if scale >= 1:
        return image, mask
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return (cv2.resize(image, size, interpolation=cv2.INTER_AREA),
            cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST))


def decode_photos(davis_root: Path, cache_dir: Path) -> int:
    """Decode ``davis_root/Photos`` (if present) into ``cache_dir``; the photo count."""
    folder = Path(davis_root) / FOLDER
    if not folder.is_dir():
        return 0
    images, masks, rows = [], [], []
    for image_path, mask_path in tqdm(find_pairs(folder), desc="decode photos", unit="photo"):
        image = read_frame(image_path, fix="replace it or remove it and its mask")
        image, mask = _fit(image, read_photo_mask(mask_path, image.shape[1::-1]))
        images.append(image.reshape(-1, 3))
        masks.append(mask.reshape(-1))
        rows.append({"name": image_path.relative_to(folder).as_posix(), "height": mask.shape[0],
                     "width": mask.shape[1], "object_pixels": int(mask.sum())})
    np.savez(Path(cache_dir) / NPZ, images=np.concatenate(images), masks=np.concatenate(masks),
             shapes=np.array([[r["height"], r["width"]] for r in rows], np.int64))
    pq.write_table(pa.Table.from_pylist(rows), Path(cache_dir) / INDEX)
    return len(rows)


def load_photos(cache_dir: Path) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The cached photos as (image (H, W, 3), mask (H, W)) pairs; None when there are none."""
    path = Path(cache_dir) / NPZ
    if not path.is_file():
        return None
    with np.load(path) as data:
        images, masks, shapes = data["images"], data["masks"], data["shapes"]
    ends = np.cumsum(shapes.prod(axis=1))
    return [(images[a:b].reshape(h, w, 3), masks[a:b].reshape(h, w))
            for a, b, (h, w) in zip(np.r_[0, ends[:-1]], ends, shapes)]


def _path(rng: np.random.Generator, size: float, shift: float, zoom: float, degrees: float,
          fast: bool) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (shift y, shift x, log zoom, degrees) of an affine path."""
    reach = 3.0 if fast else 1.0
    start = np.r_[rng.uniform(-shift, shift, 2) * size, rng.uniform(-zoom, zoom), rng.uniform(-degrees, degrees)]
    move = np.r_[rng.uniform(-shift, shift, 2) * size * reach, rng.uniform(-zoom, zoom) * reach,
                 rng.uniform(-degrees, degrees) * reach]
    return start, start + move


def _affine(params: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """2x3 map of output pixels to input pixels: zoom and rotation about ``centre``, then shift."""
    dy, dx, log_zoom, degrees = params
    m = cv2.getRotationMatrix2D((centre[1], centre[0]), float(degrees), float(np.exp(log_zoom)))
    m[:, 2] += (dx, dy)
    return cv2.invertAffineTransform(m)


def _elastic(rng: np.random.Generator, hw: tuple[int, int], amplitude: float) -> np.ndarray:
    """A smooth (2, H, W) displacement field: random values on a 4x4 grid, upsampled."""
    coarse = rng.normal(0, amplitude, (2, 4, 4)).astype(np.float32)
    return np.stack([cv2.resize(c, hw[::-1], interpolation=cv2.INTER_CUBIC) for c in coarse])


def _apply(m: np.ndarray, x, y) -> tuple:
    """A 2x3 affine map applied to coordinates ``x``, ``y`` (arrays): (x', y')."""
    return m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]


def _points(inverse: np.ndarray, hw: tuple[int, int]) -> tuple:
    """Image coordinates (x, y) of an ``hw`` grid's pixels under a 2x3 grid-to-image map."""
    ys, xs = np.mgrid[0:hw[0], 0:hw[1]].astype(np.float32)
    return _apply(inverse, xs, ys)


def _maps(hw: tuple[int, int], inverse: np.ndarray, field: np.ndarray | None):
    """cv2.remap's (map_x, map_y) of a 2x3 output-to-input map plus a displacement field."""
    map_x, map_y = _points(inverse, hw)
    if field is not None:
        map_y, map_x = map_y + field[0], map_x + field[1]
    return map_x.astype(np.float32), map_y.astype(np.float32)


def _remap(image: np.ndarray, maps, nearest: bool) -> np.ndarray:
    """Frames bilinear with reflected borders; masks nearest, 0 outside."""
    if nearest:
        return cv2.remap(image, *maps, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.remap(image, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _object_path(rng: np.random.Generator, mask: np.ndarray, fast_prob: float, grid: int | None = None,
                 shift: float = 0.15):
    """The object's centre, affine path and elastic fields of one clip (the fields at the
    mask's size, or on a ``grid`` x ``grid`` square); ``shift``: the path's reach, in object
    sizes."""
    size = float(np.sqrt(mask.sum()))
    centre = tuple(float(c) for c in np.argwhere(mask).mean(axis=0))
    fast = rng.random() < fast_prob
    path = _path(rng, size, shift, 0.12, 8.0, fast)
    hw = mask.shape if grid is None else (grid, grid)
    fields = [_elastic(rng, hw, rng.uniform(0, 0.04) * size) for _ in range(2)]
    return centre, path, fields


def photo_clip(photos: list[tuple[np.ndarray, np.ndarray]], index: int, clip_len: int,
                rng: np.random.Generator, paste_prob: float = 0.5,
                fast_prob: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) uint8 and binary masks (T, H, W) of photo ``index`` moved over
    ``clip_len`` frames (see the module doc), at the photo's size."""
    image, mask = photos[index]
    hw = mask.shape
    centre, obj_path, fields = _object_path(rng, mask, fast_prob)
    pasted = len(photos) > 1 and rng.random() < paste_prob
    if pasted:
        other = (index + 1 + int(rng.integers(len(photos) - 1))) % len(photos)
        background = cv2.resize(photos[other][0], hw[::-1], interpolation=cv2.INTER_LINEAR)
        bg_path = _path(rng, float(min(hw)), 0.05, 0.05, 3.0, False)
        bg_centre = (hw[0] / 2, hw[1] / 2)
    frames, masks = [], []
    for t in np.linspace(0.0, 1.0, clip_len):
        maps = _maps(hw, _affine(obj_path[0] + t * (obj_path[1] - obj_path[0]), centre),
                     (1 - t) * fields[0] + t * fields[1])
        warped, m = _remap(image, maps, nearest=False), _remap(mask, maps, nearest=True)
        if pasted:
            bg = _remap(background, _maps(hw, _affine(bg_path[0] + t * (bg_path[1] - bg_path[0]),
                                                      bg_centre), None), nearest=False)
            alpha = cv2.GaussianBlur(m.astype(np.float32), (3, 3), 0)[..., None]
            warped = (alpha * warped + (1 - alpha) * bg).round().astype(np.uint8)
        frames.append(warped)
        masks.append(m)
    return np.stack(frames), np.stack(masks)


def pass_occluder(frames: np.ndarray, labels: np.ndarray, photo: tuple[np.ndarray, np.ndarray],
                  rng: np.random.Generator, sizes: tuple[float, float] = (0.25, 0.6)
                  ) -> tuple[np.ndarray, np.ndarray]:
    """A photo's object cut out and moved in a straight line across a clip of crops, in front
    of everything: crops (T, S, S, 3) uint8 and label maps (T, S, S) (1 = the target, 0,
    255 void) -> the same with the cut-out over them and its pixels (where it covers at least
    half of one) labelled 0 (void stays void). Its larger side is ``sizes`` (drawn from the
    range) times the crop's, its path from one point of the crop to another over the clip:
    in front of the target it hides a part (an occluder, as the pole of DAVIS's kite-walk),
    beside it it is a salient thing that is not the target (a distractor). STM and XMem
    pretrain with objects pasted so; :class:`~pipeline.data.dataset.PropagationClipDataset`
    draws one for a share ``occluder_prob`` of its clips."""
    image, mask = photo
    rect = bounds(mask)  # never None: photo masks are refused empty (read_photo_mask)
    cut, alpha = image[rect], mask[rect].astype(np.float32)
    side = frames.shape[1]
    scale = rng.uniform(*sizes) * side / max(cut.shape[:2])
    size = (max(1, round(cut.shape[1] * scale)), max(1, round(cut.shape[0] * scale)))
    cut = cv2.resize(cut, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.GaussianBlur(cv2.resize(alpha, size, interpolation=cv2.INTER_AREA), (3, 3), 0)
    start, end = rng.uniform(0, side, 2), rng.uniform(0, side, 2)  # the centre's path (x, y)
    frames, labels = frames.copy(), labels.copy()
    for t, frame, label in zip(np.linspace(0.0, 1.0, len(frames)), frames, labels):
        x, y = start + t * (end - start) - np.array(size) / 2
        shift = np.float32([[1, 0, x], [0, 1, y]])
        a = cv2.warpAffine(alpha, shift, (side, side), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        over = cv2.warpAffine(cut, shift, (side, side), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)  # its edge not darkened
        frame[:] = (a[..., None] * over + (1 - a[..., None]) * frame).round().astype(np.uint8)
        label[(a >= 0.5) & (label != VOID)] = 0
    return frames, labels


def paint_out(image: np.ndarray, mask: np.ndarray, margin: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with ``mask``'s pixels, and ``margin`` pixels around them (where the object's
    edge blurs into the scene), filled in from their surroundings (``cv2.inpaint``, Telea's
    method): the scene without the object, for :func:`deformed_crops`'s pasted clips; and
    the filled pixels (bool)."""
    hole = cv2.dilate(mask.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8))
    return cv2.inpaint(image, hole, 3, cv2.INPAINT_TELEA), hole.astype(bool)


def deformed_crops(image: np.ndarray, labels: np.ndarray, clip_len: int, rng: np.random.Generator,
                   window: tuple[float, float, float], size: int, box_of, fast_prob: float = 0.2,
                   fill: int = 0, scene: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One image and its label map (1 = the object) moved as :func:`photo_clip` moves a photo
    whole (the same affine paths, and an elastic deformation laid over ``window``, a square
    box (centre y, x, side) around the object), seen through one ``size`` x ``size`` crop:
    frames (T, size, size, 3) and label maps (T, size, size), ``fill`` outside the image.
    ``box_of(y0, y1, x0, x1)``: the crop box for the bounds of the last frame's object (image
    pixels). Fine-tuning makes clips so from frame 0 (:func:`pipeline.engine.osvos.finetune`,
    ``deform_prob``): the object in poses, scales and angles frame 0 does not show.

    With ``scene``, the image and label map without the object (:func:`paint_out`), the
    object is cut out instead and moved alone, farther (half its size where the whole image
    moves a sixth), over the scene, which moves along a gentler path as a pasted photo's
    background does: Lucid Data Dreaming's clips (Khoreva et al. 2017), the object over parts
    of its scene it never covered, and where it was, the painted-out scene, labelled
    background.

    Each output pixel is sampled from the image once, through the composed maps (crop, then
    motion and deformation), so a clip costs what its crops cost, not what the image does."""
    obj = labels == 1
    centre, path, fields = _object_path(rng, obj, fast_prob, grid=_GRID,
                                        shift=0.15 if scene is None else 0.5)
    to_grid = crop_matrix(window, _GRID)  # image -> the fields' grid over the window
    from_grid = cv2.invertAffineTransform(to_grid)

    def sources(points, t, fx, fy):
        x, y = _apply(_affine(path[0] + t * (path[1] - path[0]), centre), *points)
        return x + fx, y + fy

    # the last frame's object on the window's grid: its bounds give the crop box
    grid_pts = _points(from_grid, (_GRID, _GRID))
    last = _sample(labels, sources(grid_pts, 1.0, fields[1][1], fields[1][0]), True, fill) == 1
    rect = bounds(last)
    if rect is not None:
        (y0, y1), (x0, x1) = (rect[0].start, rect[0].stop), (rect[1].start, rect[1].stop)
        corners = cv2.transform(np.float32([[[x0, y0], [x1, y1]]]), from_grid)[0]
        box = box_of(corners[0, 1], corners[1, 1], corners[0, 0], corners[1, 0])
    else:  # moved out of the window: the window's centre
        box = box_of(window[0] - window[2] / 4, window[0] + window[2] / 4,
                     window[1] - window[2] / 4, window[1] + window[2] / 4)
    pts = _points(cv2.invertAffineTransform(crop_matrix(box, size)), (size, size))
    on_grid = cv2.transform(np.stack(pts, -1).reshape(1, -1, 2), to_grid)[0]
    gx, gy = (on_grid[:, i].reshape(size, size).astype(np.float32) for i in (0, 1))
    f0, f1 = ([cv2.remap(c, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for c in f]
              for f in fields)
    if scene is not None:
        hw = labels.shape
        scene_path = _path(rng, float(min(hw)), 0.05, 0.05, 3.0, False)
        scene_image, scene_labels = scene
        cut = obj.astype(np.float32)
    frames, maps = [], []
    for t in np.linspace(0.0, 1.0, clip_len):
        src = sources(pts, t, (1 - t) * f0[1] + t * f1[1], (1 - t) * f0[0] + t * f1[0])
        frame = _sample(image, src, False, 0)
        if scene is None:
            frames.append(frame)
            maps.append(_sample(labels, src, True, fill))
            continue
        scene_src = _apply(_affine(scene_path[0] + t * (scene_path[1] - scene_path[0]),
                                   (hw[0] / 2, hw[1] / 2)), *pts)
        alpha = _sample(cut, src, False, 0)  # bilinear: the cut-out's edge is soft
        behind = _sample(scene_image, scene_src, False, 0)
        frames.append((alpha[..., None] * frame + (1 - alpha[..., None]) * behind).round().astype(np.uint8))
        behind = _sample(scene_labels, scene_src, True, fill)
        maps.append(np.where(alpha >= 0.5, 1, behind).astype(labels.dtype))
    return np.stack(frames), np.stack(maps)


_GRID = 64  # side of the grid the elastic fields are laid on (they are smooth: 4x4 upsampled)


def _sample(image: np.ndarray, src, nearest: bool, fill: int) -> np.ndarray:
    """``image`` at the (x, y) maps ``src``: bilinear or nearest, ``fill`` outside."""
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.remap(image, src[0].astype(np.float32), src[1].astype(np.float32), flags,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
