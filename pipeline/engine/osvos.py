"""One-shot fine-tuning on frame 0 (OSVOS) and online mask propagation.

Each object is segmented in an object-centred crop (:mod:`pipeline.data.crops`) of a clip
that *ends* at the frame being predicted, with a 4th input channel, the prior mask: the
masks already predicted for the clip's past frames, and for the current frame the previous
prediction warped by optical flow (:mod:`pipeline.engine.flow`). The network's job is to
correct the propagated mask with what the images show (MaskTrack, Perazzi et al. CVPR 2017,
with a SlowFast clip network instead of a per-frame one).

Fine-tuning (Caelles et al., CVPR 2017, adapted): start from the parent network; each step
trains on clips that end at frame 0, made of its real neighbours in reverse time (or frame 0
alone, repeated, as at the start of a sequence, or moved and deformed: ``deform_prob``),
cropped around one object of frame 0 with a jittered box, with priors drawn from frame 0's
mask with propagation errors (:func:`~pipeline.data.priors.clip_priors`). Only frame 0's
mask is a target; everything else is void. One network per sequence serves every object (a
batch item is one object). BatchNorm statistics stay frozen.

Prediction (:func:`propagate`): frame by frame, every object in one batch; the objects'
foreground probabilities are merged by soft aggregation (RGMP, Oh et al. CVPR 2018): each
object's logit against the background's ``prod(1 - p_k)``, argmax over them. With
``test_flip`` each clip's prediction is averaged with that of its mirror image, the usual
test-time augmentation of segmentation, for twice the network's compute where it is taken.
Off by default since the appearance and motion checks and the photo-trained parent: it no
longer changes the held-out score (README, "The test-time flip where it matters").
"""
from __future__ import annotations

import functools
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import Compose
from torch import nn

from pipeline.data.clips import ClipSpec
from pipeline.data.crops import bounds, jitter_box, object_box, paste, square_box
from pipeline.data.davis import VOID
from pipeline.data.photos import deformed_crops, paint_out
from pipeline.data.priors import clip_priors, with_prior
from pipeline.data.transforms import ClipAugment
from pipeline.engine.appearance import AppearanceCheck, box_region, region
from pipeline.engine.config import ClipTraining
from pipeline.engine.edges import class_argmax, snap_edges, snapped_probabilities
from pipeline.engine.flow import FlowWarper
from pipeline.errors import TrainingDivergedError
from pipeline.labels import object_ids
from pipeline.models.fusion import fused_for_inference
from pipeline.runtime import core_for_flow
from pipeline.registry import TRANSFORMS, build


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig(ClipTraining):
    """``steps`` updates at ``lr`` (``scheduler``: ``constant``, or ``cosine`` down to
    ``lr / 100``); ``static_prob``: the share of clips that are frame 0 repeated (the rest
    are frame 0's real neighbours in reverse time; 0 chosen on the held-out sequences: README,
    "Fine-tuning clips of real neighbours");
    ``deform_prob``: the share of clips that are frame 0 alone moved and deformed as a still
    photo is in pretraining (:func:`~pipeline.data.photos.deformed_crops`: the object in
    poses, scales and angles frame 0 does not show; Lucid Data Dreaming, Khoreva et al.
    2017, and MaskTrack's online augmentation; off by default: README, "Frame 0 moved and
    deformed"); ``paste_prob``: the share of those clips whose object is cut out and moved
    alone over frame 0 with the object painted out (:func:`~pipeline.data.photos.paint_out`;
    Lucid Data Dreaming's full recipe); ``prior_strength``: each clip's prior errors have a
    strength drawn from [0, it] (:func:`~pipeline.data.priors.draw_errors`); ``cut_prob``: the
    share of clips whose priors lack a part of the object's edge, a lost limb; ``test_flip``:
    :func:`propagate` averages each clip's prediction with its mirror image's, for the clips
    whose own prediction is uncertain on at least ``flip_uncertain`` of the crop (0: every
    clip); ``predict_bf16``: prediction under bfloat16 autocast; ``predict_context_scale``:
    prediction crops are this times the side of fine-tuning's (``model.context`` times the
    object's size, see :func:`propagate`);
    ``frozen_scales``: the backbone's first scales (stems, then stages:
    :meth:`~pipeline.models.slowfast.SlowFastBackbone.scale_modules`) keep the parent's
    weights, so the backward pass stops before them (cheaper steps; the whole backbone's
    number of scales adapts the decoder alone); ``drop_new_parts``, ``new_part_margin``,
    ``search_growth``, ``appearance_vote``, ``refind_area``, ``appearance_update``,
    ``edge_refine``, ``motion_check`` and ``growth_vote``: see :class:`Propagator`;
    ``blend``: the fine-tuned weights' share in the network that predicts, the parent's
    being the rest (weight-space ensembling, WiSE-FT: Wortsman et al., CVPR 2022; 1.0: the
    fine-tuned weights as they are; :func:`blend_weights`)."""

    steps: int = 100
    lr: float = 1e-3
    batch_size: int = 2
    scheduler: str = "constant"
    static_prob: float = 0.0
    deform_prob: float = 0.0
    paste_prob: float = 0.0
    prior_strength: float = 2.0
    cut_prob: float = 0.0
    test_flip: bool = False
    flip_uncertain: float = 0.1
    predict_bf16: bool = False
    predict_context_scale: float = 0.8
    frozen_scales: int = 3
    drop_new_parts: bool = True
    new_part_margin: float = 0.1
    search_growth: float = 1.0
    appearance_vote: float = 0.1
    refind_area: float = 0.3
    appearance_update: int = 10
    edge_refine: float = 0.012
    motion_check: float = 0.002
    growth_vote: float = 0.0
    blend: float = 1.0
    augment: ClipAugment = field(default_factory=lambda: ClipAugment(colour=0.1))

    def predict_options(self) -> dict:
        """The keyword arguments of :class:`Propagator` (and :func:`propagate`) these
        settings give."""
        return dict(tau=self.tau, flip=self.test_flip, flip_uncertain=self.flip_uncertain,
                    bf16=self.predict_bf16, context_scale=self.predict_context_scale,
                    drop_new_parts=self.drop_new_parts, new_part_margin=self.new_part_margin,
                    search_growth=self.search_growth, appearance_vote=self.appearance_vote,
                    refind_area=self.refind_area, appearance_update=self.appearance_update,
                    edge_refine=self.edge_refine, motion_check=self.motion_check,
                    growth_vote=self.growth_vote)


def _freeze_batchnorm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)


def frame0_labels(mask0: np.ndarray, object_ids: list[int]) -> np.ndarray:
    """Frame-0 ids -> class indices 0..K (ids in ``object_ids`` order), void stays 255."""
    labels = np.zeros_like(mask0)
    for k, obj in enumerate(object_ids, start=1):
        labels[mask0 == obj] = k
    labels[mask0 == VOID] = VOID
    return labels


def _object_target(labels0: np.ndarray, k: int) -> np.ndarray:
    """Object ``k``'s target in frame 0: 1 on it, 0 elsewhere, void kept."""
    target = (labels0 == k).astype(np.uint8)
    target[labels0 == VOID] = VOID
    return target


def _one_shot_clip(frames, labels0, k, spec: ClipSpec, static_prob, strength, rng,
                   cut_prob: float = 0.0) -> dict:
    """A training clip ending at frame 0, cropped around object ``k``; only frame 0 labelled."""
    if rng.random() < static_prob:
        idx = np.zeros(spec.clip_len, int)
    else:
        idx = spec.indices(0, len(frames), mirror=True)
    target = _object_target(labels0, k)
    clip = [frames[i] for i in idx]  # views: the crops are cut from them, nothing is copied
    crops, label = spec.crop(clip, target[None], spec.box(target == 1, rng), fill=VOID)
    fg = (label[0] == 1).astype(np.uint8)
    masks = np.full((spec.clip_len, spec.crop_size, spec.crop_size), VOID, np.uint8)
    masks[-1] = label[0]
    priors = clip_priors(np.repeat(fg[None], spec.clip_len, 0), rng, rng.uniform(0.0, strength),
                         cut_prob=cut_prob)
    return {"frames": crops, "masks": masks, "priors": priors}


def _deformed_one_shot_clip(frame0, labels0, k, spec: ClipSpec, strength, rng, scene=None,
                            cut_prob: float = 0.0) -> dict:
    """A training clip made of frame 0 alone, moved and deformed as a still photo is in
    pretraining (:func:`~pipeline.data.photos.deformed_crops`; with ``scene``, frame 0 and
    its labels without object ``k``, the object cut out and moved over it), cropped around
    object ``k`` of its last frame as :meth:`ClipSpec.box` crops (jittered); only that frame
    labelled (the others as in :func:`_one_shot_clip`)."""
    target = _object_target(labels0, k)
    cy, cx, side = object_box(target == 1, spec.context, spec.min_side)

    def box_of(y0, y1, x0, x1):
        return jitter_box(square_box(y0, y1, x0, x1, spec.context, spec.min_side), rng)

    crops, label = deformed_crops(frame0, target, spec.clip_len, rng, (cy, cx, 2 * side),
                                  spec.crop_size, box_of, fill=VOID, scene=scene)
    masks = np.full(label.shape, VOID, np.uint8)
    masks[-1] = label[-1]
    priors = clip_priors((label == 1).astype(np.uint8), rng, rng.uniform(0.0, strength),
                         cut_prob=cut_prob)
    return {"frames": crops, "masks": masks, "priors": priors}


def _scene_without(frame0, labels0, k) -> tuple[np.ndarray, np.ndarray]:
    """Frame 0 and object ``k``'s target with the object painted out (its edge's void too)."""
    image, hole = paint_out(frame0, labels0 == k)
    target = _object_target(labels0, k)
    target[hole] = 0
    return image, target


def _training_clip(frames, labels0, k, spec: ClipSpec, cfg: FinetuneConfig, rng, scenes=None) -> dict:
    """A fine-tuning clip of object ``k``: frame 0 moved and deformed with probability
    ``deform_prob`` (no draw when it is 0, so that runs without it are the runs before it;
    of those, a share ``paste_prob`` with the object moved alone over ``scenes[k]``, frame 0
    without it), else frame 0 with its real neighbours or repeated."""
    if cfg.deform_prob and rng.random() < cfg.deform_prob:
        scene = scenes[k] if cfg.paste_prob and rng.random() < cfg.paste_prob else None
        return _deformed_one_shot_clip(frames[0], labels0, k, spec, cfg.prior_strength, rng, scene,
                                       cfg.cut_prob)
    return _one_shot_clip(frames, labels0, k, spec, cfg.static_prob, cfg.prior_strength, rng,
                          cfg.cut_prob)


def _batch(items: list[dict]) -> dict:
    inputs = np.stack([with_prior(b["frames"], b["priors"]) for b in items])
    return {"inputs": torch.from_numpy(inputs).permute(0, 4, 1, 2, 3),
            "data_samples": torch.from_numpy(np.stack([b["masks"] for b in items]))}


def finetune(model, frames: np.ndarray, labels0: np.ndarray, cfg: FinetuneConfig,
             device: str = "cpu", progress=None) -> list[float]:
    """Fine-tune ``model`` in place on frame 0 of one sequence; returns the loss per step.

    frames: (T, h, w, 3) uint8 at the working resolution; labels0: (h, w) class indices
    0..K (255 void).
    """
    objects = object_ids(labels0)
    if not objects:
        raise ValueError("the frame-0 mask is empty: there is no object to fine-tune on")
    rng = np.random.default_rng(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    augment = Compose([build(TRANSFORMS, dict(t)) for t in cfg.augment])
    model.to(device).train()
    model.requires_grad_(True)  # what an earlier call froze is trained unless frozen here too
    _freeze_batchnorm(model)
    backbone = model.backbone
    if not 0 <= cfg.frozen_scales <= backbone.num_scales:
        raise ValueError(f"finetune.frozen_scales must be in [0, {backbone.num_scales}] for this "
                         f"backbone ({backbone.num_scales} scales), got {cfg.frozen_scales}")
    _check_blend(cfg.blend)
    for scale in range(cfg.frozen_scales):
        for module in backbone.scale_modules(scale):
            module.requires_grad_(False)
    # oneDNN's CPU conv backward, the depthwise ones above all, is about 2x faster on
    # channels-last tensors; the weights go back to the default layout at the end
    layout = torch.channels_last_3d if torch.device(device).type == "cpu" else torch.contiguous_format
    model.to(memory_format=layout)
    params = [p for p in model.parameters() if p.requires_grad]
    parent = [p.detach().clone() for p in params] if cfg.blend != 1.0 else None
    optimizer = getattr(torch.optim, cfg.optimizer)(params, lr=cfg.lr)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.steps, eta_min=cfg.lr * 0.01)
                 if cfg.scheduler == "cosine" and cfg.steps else None)
    spec = ClipSpec(cfg.clip_len, cfg.tau, model.crop_size, model.context)
    scenes = ({k: _scene_without(frames[0], labels0, k) for k in objects}
              if cfg.deform_prob and cfg.paste_prob else None)
    losses = []
    for step in range(cfg.steps):
        batch = [augment(_training_clip(frames, labels0, int(rng.choice(objects)), spec, cfg, rng, scenes))
                 for _ in range(cfg.batch_size)]
        data = model.data_preprocessor(_batch(batch), True, memory_format=layout)
        loss = sum(model(**data, mode="loss").values())
        if not torch.isfinite(loss):  # stop before the update spoils the weights
            raise TrainingDivergedError(f"finetune step {step + 1}: the loss is {float(loss.detach())}; "
                                        "fine-tuning stopped; lower finetune.lr")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress.update(1)
    if parent is not None:
        _blend(params, parent, cfg.blend)
    model.to(memory_format=torch.contiguous_format).eval()
    return losses


def blend_weights(model: nn.Module, parent: nn.Module, share: float) -> nn.Module:
    """``model``'s parameters moved, in place, to ``parent + share * (model - parent)``
    (what :func:`finetune` does with ``blend=share``, for weights fine-tuned without it);
    buffers (frozen batch norm statistics) stay. ``model``."""
    _blend(list(model.parameters()), list(parent.parameters()), share)
    return model


def _check_blend(share: float) -> None:
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"finetune.blend={share}: the fine-tuned weights' share, in [0, 1]")


@torch.no_grad()
def _blend(params: list[torch.Tensor], parents: list[torch.Tensor], share: float) -> None:
    """Each of ``params`` set, in place, to its parent's value + ``share`` x its change."""
    _check_blend(share)
    for p, p0 in zip(params, parents, strict=True):
        p.copy_(p0 + share * (p - p0))


def aggregate(fg: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """(K, H, W) per-object foreground probabilities -> (K+1, H, W) class probabilities.

    Soft aggregation: the background is ``prod(1 - p_k)``; each class's logit is that of its
    probability, and a softmax over the K+1 logits normalises them.
    """
    fg = np.clip(fg, eps, 1 - eps)
    bg = np.clip(np.prod(1 - fg, axis=0, keepdims=True), eps, 1 - eps)
    p = np.concatenate([bg, fg])
    logits = np.log(p) - np.log1p(-p)
    logits -= logits.max(axis=0, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=0, keepdims=True)


def aggregate_argmax(fg: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """(K, H, W) foreground probabilities -> (H, W) uint8 class of :func:`aggregate`'s
    largest probability, without computing them: the logit and the softmax are increasing,
    so the largest class probability is the class of the largest clipped ``[bg, fg_1..K]``
    (ties to the lower class, as ``argmax``). 6x faster at 854x480 for one object."""
    fg = np.clip(fg, eps, 1 - eps)
    return class_argmax(np.clip(np.prod(1 - fg, axis=0), eps, 1 - eps), fg)


class Propagator:
    """Online mask propagation, one frame at a time (:meth:`step`): the state of
    :func:`propagate` (the network's inference copy, the flow warper, each object's box and the
    last ``(clip_len - 1) * tau`` frames with their predicted masks, the clip's past), so that
    a caller can stream a video of any length in constant memory, and give masks at later
    frames. Clips are cut as in training (:class:`~pipeline.data.clips.ClipSpec`): ``clip_len``
    frames ``tau`` apart ending at the frame being predicted.

    Masks are class maps at the working size (``0`` background, ``1..K`` the objects, ``255``
    void, taken as background); :meth:`step` returns the frame's classes at ``out_size``
    (default: the working size). See :func:`propagate` for ``flip``, ``flip_uncertain``,
    ``bf16`` and ``context_scale``; ``clips`` and ``mirrored`` count the clips predicted and
    the mirror images among them.

    Threads: given the next frame (:meth:`step`'s ``upcoming``), the flow to it runs on a
    worker thread beside this frame's network; the appearance memory's update runs on
    another until the memory is next used; and :meth:`advance` leaves the drawing of a
    frame's output to the caller's thread of choice. Each gives the masks computed in turn.
    :meth:`close` stops the threads.

    ``drop_new_parts``: an error check against the object's past. A connected part of an
    object's predicted mask that lies farther than ``new_part_margin`` times the object's size
    (the square root of its area) from the object's flow-warped previous mask is not the
    object moving but something new that the network takes for it (a banner or a fence the
    object passes), and is dropped: once in the mask it would become the next frame's prior
    and stay to the end. Parts that grow out of the object are kept, as are all parts of an
    object whose previous mask is empty (one being found again).

    ``search_growth``: how a lost object is looked for. While an object's previous mask is
    empty its crop box stays where it was last seen (1.0) or grows by this factor each frame,
    centred on where it was last seen, until it spans the frame (then centred on the frame),
    so that an object that comes back elsewhere (out of view, fully occluded) can be found.

    ``appearance_vote``: an error check against the object's appearance. When an object's
    predicted mask is in several connected parts (after ``drop_new_parts``), each part whose
    vote (:class:`~pipeline.engine.appearance.AppearanceCheck`: the share of its pixels that
    look more like the object than like anything else of the frame its mask was given at) is
    below ``appearance_vote`` is dropped, except the object's continuation, kept whatever it
    looks like, so that the check can trim an object but never lose it: the part that holds
    the most of the object's flow-warped previous mask that looks like it (the part's overlap
    with that mask times its vote; on a tie, as when every vote is 0, the larger overlap). A
    fence the horse has jumped can hold more of the previous mask than the horse, which moved
    on, but votes near 0: the horse continues the object. And the check has a say only where
    the continuation itself looks like the object (at least half of its pixels do): when it
    does not (a car in smoke, a face turned away), low votes say more about the frame than
    about the parts, and every part is kept. It catches what the position check cannot: a
    leak taken in while it touched the object and left behind as the object moves on (a
    fence the horse has jumped). Parts smaller than ``SMALLEST_JUDGED`` pixels (one 8x8 cell
    of the features, which cannot describe them) are neither judged nor dropped, and a mask
    whose other parts are all that small costs no features. 0 (off): no check, and no
    appearance features computed.

    ``refind_area``: how a lost object is found again, by its appearance. While an object's
    previous mask is empty, the whole frame is described as ``appearance_vote`` describes
    parts, and the largest connected region that looks like the object is taken as its prior
    (the network then segments it in a crop around that region), if that region is at least
    ``refind_area`` times the object's area where its mask was given; smaller look-alikes
    (some always exist) are left alone and the object stays lost. The features are computed
    only at frames where an object is lost. 0 (off): a lost object is looked for in its box
    alone (``search_growth``). It matches against the given view alone, which never drifts.

    ``appearance_update``: every this many predicted frames, each object whose mask looks
    like it (at least ``UPDATE_VOTE`` of its pixels) adds that frame's view to the appearance
    check's memory (:meth:`~pipeline.engine.appearance.AppearanceCheck.add`, the newest 4
    kept), against which ``appearance_vote`` then votes: an object whose appearance moves
    away from frame 0 (a pilot seen from below, a car turning) still looks like itself, and
    a leak, voting under ``UPDATE_VOTE``, is not learned as the object. 0: frame 0's view
    alone. Only with ``appearance_vote``.

    ``edge_refine``: the returned classes of a predicted frame have their edges moved onto
    the frame's colour edges (:func:`~pipeline.engine.edges.snap_edges`, windows of this
    times the frame's diagonal, at the working size), which the network, outlining each
    object on a grid several frame pixels wide, cannot draw. Only what is returned: the
    next frame's prior is the network's own mask, as without it (refined masks fed back
    drift with the colour edges: a car in smoke was lost). 0: off.

    ``motion_check``: an error check against the object's motion. A mask moves with its
    object; a leak taken in from the scene (a fence the horse jumps, banners behind a rider)
    moves with the scene. The pixels of an object's mask that are new this frame (outside
    its flow-warped previous mask) and whose flow is under half as far from the scene's
    motion around the object (the median over a ring 0.15 times the object's size wide, past
    a gap of 0.05 times it) as from the object's own (the median over its previous mask's
    interior), in connected groups of at least :data:`MOVED_MIN` pixels, are dropped before
    they become the next frame's prior; only where those two motions differ by at least
    ``motion_check`` times the frame's diagonal in a frame (2 pixels at 854x480: an object
    moving as its surroundings do, or a still camera on a still object, leaves motion
    nothing to tell). It catches what ``appearance_vote`` cannot, a leak while it is still
    attached to the object; new pixels alone are judged, so what the object already holds
    stays. 0: off.

    ``growth_vote``: an error check of the mask's growth against the object's appearance.
    The new pixels of an object's mask (outside its flow-warped previous mask, after
    ``motion_check``), in connected groups of at least :attr:`GROWTH_MIN` times the object's
    previous area (and :attr:`SMALLEST_JUDGED` pixels), are dropped where under this share of
    a group's pixels look like the object (``appearance_vote``'s vote, against the same
    memory): a leak into ground or sky that moves as the object does, which the motion check
    cannot tell, still looks like the scene. A group is judged as a whole (the object's own
    growth and a leak that touch it are one group). Only growth is judged, so what the object
    holds stays. The features are computed around the object at frames where a group that large
    grows. 0: off.
    """

    UPDATE_VOTE = 0.85
    GROWTH_MIN = 0.02  # of the previous area: smaller groups of new pixels are the edge moving
    SMALLEST_JUDGED = 64  # pixels: a part smaller than one 8x8 cell of the appearance features

    def __init__(self, model, clip_len: int, out_size: tuple[int, int] | None = None,
                 device: str = "cpu", flip: bool = False, bf16: bool = False,
                 context_scale: float = 1.0, drop_new_parts: bool = False,
                 new_part_margin: float = 0.1, tau: int = 1, search_growth: float = 1.0,
                 appearance_vote: float = 0.0, refind_area: float = 0.0,
                 appearance_update: int = 0, flip_uncertain: float = 0.0,
                 edge_refine: float = 0.0, motion_check: float = 0.0,
                 growth_vote: float = 0.0):
        if search_growth < 1.0:
            raise ValueError(f"search_growth={search_growth}: a lost object's box can only "
                             "grow (>= 1.0)")
        self.model = fused_for_inference(model.to(device))  # BN folded, channels-last: same maps, faster
        self.out_size, self.flip, self.bf16 = out_size, flip, bf16
        if not 0.0 <= flip_uncertain <= 1.0:
            raise ValueError(f"flip_uncertain={flip_uncertain}: a share of the crop's pixels, "
                             "in [0, 1] (0: every clip is mirrored)")
        self.flip_uncertain = flip_uncertain
        self.clips = self.mirrored = 0
        self.drop_new_parts, self.new_part_margin = drop_new_parts, new_part_margin
        self.search_growth = search_growth
        if not 0.0 <= appearance_vote <= 1.0:
            raise ValueError(f"appearance_vote={appearance_vote}: a share of a part's pixels, "
                             "in [0, 1] (0: off)")
        self.appearance_vote = appearance_vote
        if refind_area < 0:
            raise ValueError(f"refind_area={refind_area}: a share of the object's given area, "
                             ">= 0 (0: off)")
        self.refind_area = refind_area
        if appearance_update < 0:
            raise ValueError(f"appearance_update={appearance_update}: frames between updates, "
                             ">= 0 (0: off)")
        self.appearance_update = appearance_update if appearance_vote else 0
        if not 0.0 <= edge_refine <= 1.0:
            raise ValueError(f"edge_refine={edge_refine}: a share of the frame's diagonal, "
                             "in [0, 1] (0: off)")
        self.edge_refine = edge_refine
        if not 0.0 <= motion_check <= 1.0:
            raise ValueError(f"motion_check={motion_check}: a share of the frame's diagonal, "
                             "in [0, 1] (0: off)")
        self.motion_check = motion_check
        if not 0.0 <= growth_vote <= 1.0:
            raise ValueError(f"growth_vote={growth_vote}: a share of a group's pixels, "
                             "in [0, 1] (0: off)")
        self.growth_vote = growth_vote
        self.predicted = 0  # frames predicted so far
        self.areas: dict[int, int] = {}  # per class: its area where its mask was given
        self.appearance = AppearanceCheck() if appearance_vote or refind_area or growth_vote else None
        self._behind: ThreadPoolExecutor | None = None  # the appearance memory's update
        self._updating: Future | None = None
        self.spec = ClipSpec(clip_len, tau, self.model.crop_size, self.model.context * context_scale)
        self.warper = FlowWarper()
        self.keep = max(self.spec.span - 1, 1)  # the clip's past, and at least the last frame
        self.frames: list[np.ndarray] = []  # the last `keep` frames (working size)
        self.ids: list[np.ndarray] = []  # their classes
        self.boxes: list = []  # per object: its crop box, kept where the prior is empty
        self.num_objects = 0

    def step(self, frame: np.ndarray, labels: np.ndarray | None = None,
             labels_out: np.ndarray | None = None, upcoming: np.ndarray | None = None) -> np.ndarray:
        """The classes of ``frame`` (h, w, 3) uint8 at ``out_size``.

        ``labels`` (h, w): given classes for this frame (the first frame's mask, or a later
        one): each class it holds takes exactly its pixels there (a new object starts being
        tracked, a known one is reset), the other objects are propagated as usual.
        ``labels_out``: the same mask at ``out_size`` (a user's mask at the video's size),
        so that the answer at its frame is exactly it there too, not its resized copy.
        ``upcoming``: the next frame, if the caller has it (the array it will pass as the next
        ``frame``, the same object): the flow to it is computed on a worker thread while this
        frame's network runs (:meth:`FlowWarper.ahead`); the same masks either way. Call
        :meth:`close` when done.
        """
        return self.advance(frame, labels, labels_out, upcoming)()

    @torch.no_grad()
    def advance(self, frame: np.ndarray, labels: np.ndarray | None = None,
                labels_out: np.ndarray | None = None,
                upcoming: np.ndarray | None = None) -> Callable[[], np.ndarray]:
        """:meth:`step`, but what it returns is drawn by the function returned here (the
        edges moved onto the frame's, the classes brought to ``out_size``): the next frame
        needs none of it, so a caller may draw it on another thread, beside the next frame's
        work. The function may be called at any time, once."""
        h, w = frame.shape[:2]
        if not self.frames and labels is None:
            raise ValueError("the first frame needs its mask (labels)")
        ids, fg = (self._predict(frame, upcoming) if self.frames and self.num_objects
                   else (np.zeros((h, w), np.uint8), None))
        if labels is not None:
            ids, fg = self._given(ids, labels, frame), None
        if upcoming is not None:
            self.warper.ahead(frame, upcoming)  # (nothing new where _predict started it)
        self.frames = (self.frames + [frame])[-self.keep:]
        self.ids = (self.ids + [ids])[-self.keep:]
        return functools.partial(_drawn, frame, ids, fg, self.num_objects + 1,
                                 tuple(self.out_size or (h, w)), self.edge_refine, labels_out)

    def close(self) -> None:
        """Stop the worker threads (the flow's, :meth:`step`'s ``upcoming``; the appearance
        memory's update); an error of the update is raised here."""
        self.warper.close()
        try:
            self._appearance_updated()
        finally:
            if self._behind is not None:
                self._behind.shutdown()
                self._behind = None

    def _given(self, ids: np.ndarray, labels: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """``ids`` with the classes of ``labels`` set from it; new classes get their boxes
        (and their appearance is taken from ``frame``, with ``appearance_vote``)."""
        (h, w), ids = ids.shape, _overridden(ids, labels)
        self.num_objects = max(self.num_objects, int(ids.max()))
        self.boxes += [None] * (self.num_objects - len(self.boxes))
        for k in range(1, self.num_objects + 1):
            if (labels == k).any() or self.boxes[k - 1] is None:
                self.boxes[k - 1] = (self.spec.box(ids == k) or self.boxes[k - 1]
                                     or (h / 2, w / 2, float(max(h, w))))
        given = object_ids(labels)
        self.areas.update({k: int((ids == k).sum()) for k in given})
        if self.appearance is not None:
            self._appearance_updated()
            self.appearance.remember(frame, ids, given)
        return ids

    def _predict(self, frame: np.ndarray, upcoming: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Classes (h, w) and per-object foreground probabilities (K, h, w) of ``frame``
        (the flow to ``upcoming`` started once this frame's is done)."""
        (h, w), k_count = frame.shape[:2], self.num_objects
        prev = np.stack([(self.ids[-1] == k) for k in range(1, k_count + 1)]).astype(np.float32)
        prior = self.warper.warp(prev, self.frames[-1], frame) > 0.5
        if upcoming is not None:
            self.warper.ahead(frame, upcoming)
        past = self.spec.indices(len(self.frames), len(self.frames) + 1)[:-1]
        clip = [self.frames[i] for i in past] + [frame]  # whole frames: cropped, never copied
        past_ids = [self.ids[i] for i in past]
        clips, whole = [], None
        for k in range(k_count):
            box = self.spec.box(prior[k])
            if box is None and self.refind_area:
                self._appearance_updated()
                if whole is None:  # the whole frame's features, once for every lost object
                    whole = self.appearance.features(frame)
                found = self._refind(whole, k + 1, ~prior.any(0))
                if found is not None:
                    prior[k], box = found, self.spec.box(found)
            self.boxes[k] = box or self._search_box(self.boxes[k], h, w)
            classes = past_ids + [prior[k].view(np.uint8) * np.uint8(k + 1)]
            clips.append(self.spec.inputs(clip, classes, self.boxes[k], cls=k + 1))
        # every clip's mirror image up front only when every one is used
        inputs = _network_inputs(self.model, np.stack(clips), self.flip and not self.flip_uncertain)
        fg_crops, mirrored = _predict_last(self.model, inputs, self.flip, self.bf16, self.flip_uncertain)
        self.clips, self.mirrored = self.clips + k_count, self.mirrored + mirrored
        fg_crops = fg_crops.float().cpu().numpy()
        fg = np.stack([paste(fg_crops[k], self.boxes[k], (h, w)) for k in range(k_count)])
        ids = aggregate_argmax(fg)
        if self.drop_new_parts and _drop_new_parts(fg, prior, self.new_part_margin, ids):
            ids = aggregate_argmax(fg)  # only when a part was dropped
        if self.motion_check and _drop_background_motion(fg, prior, ids, self.warper.flow,
                                                         self.motion_check * np.hypot(h, w)):
            ids = aggregate_argmax(fg)
        if self.growth_vote and self._drop_unlike_growth(frame, fg, prior, ids):
            ids = aggregate_argmax(fg)
        if self.appearance_vote and self._drop_unlike_parts(frame, fg, prior, ids):
            ids = aggregate_argmax(fg)
        self.predicted += 1
        if self.appearance_update and self.predicted % self.appearance_update == 0:
            self._appearance_updated()
            if self._behind is None:
                self._behind = ThreadPoolExecutor(1, thread_name_prefix="sfvos-appearance")
            self._updating = self._behind.submit(self._update_appearance, frame, ids)
        return ids, fg

    def _appearance_updated(self) -> None:
        """Wait for the appearance memory's update started at an earlier frame (its error is
        raised here): every use of the memory waits for it first, so the checks see what
        they would had the update run in turn."""
        updating, self._updating = self._updating, None
        if updating is not None:
            updating.result()

    @torch.no_grad()
    def _update_appearance(self, frame: np.ndarray, ids: np.ndarray) -> None:
        """Add this frame's view of each object whose mask looks like it (at least
        ``UPDATE_VOTE`` of its pixels) to the appearance check's memory. It runs on a worker
        thread, beside the next frames' network (their masks do not need it), until
        :meth:`_appearance_updated`."""
        for k in range(1, self.num_objects + 1):
            mask = ids == k
            if k not in self.appearance.refs or not mask.any():
                continue
            box = region(mask)
            feats = self.appearance.features(frame[box])
            if self.appearance.votes(feats, k, mask[box].view(np.uint8), [1])[1] >= self.UPDATE_VOTE:
                self.appearance.add(feats, k, mask[box])

    def _drop_unlike_parts(self, frame: np.ndarray, fg: np.ndarray, prior: np.ndarray,
                           ids: np.ndarray) -> bool:
        """Zero, in place, each object's foreground probability on the parts of its mask
        whose appearance vote is below ``appearance_vote`` but its continuation, where that
        one's vote is at least one half (objects with an empty prior, being found again, are
        left alone); whether any was. The continuation: the part with the largest overlap
        with the prior times vote (see :class:`Propagator`)."""
        dropped = False
        for k in range(len(fg)):
            if not prior[k].any():
                continue
            found = _parts((ids == k + 1).view(np.uint8))
            if found is None:
                continue
            rect, count, inner, stats = found
            box = box_region(*rect, ids.shape)  # features around the object only: 2-4x cheaper
            parts = _placed(inner, rect, box)
            overlap = np.bincount(parts[prior[k][box]], minlength=count)
            largest = max(range(1, count), key=lambda p: (overlap[p], stats[p, cv2.CC_STAT_AREA]))
            rest = [p for p in range(1, count) if p != largest
                    and stats[p, cv2.CC_STAT_AREA] >= self.SMALLEST_JUDGED]
            if not rest:
                continue
            feats = self.appearance.features(frame[box])
            self._appearance_updated()
            votes = self.appearance.votes(feats, k + 1, parts, rest)
            # The largest-overlap part (most of the mask's cells) is matched only when its vote
            # can change what is dropped (a part's vote reads only its own cells and their
            # neighbours: the same votes either way): another part looks unlike the object, or
            # one that looks like it overlaps the prior and may continue the object (a leak it
            # took in can hold more of the prior). Under one half, the continuation does not
            # look like the object here and the check has no say.
            if not any(votes[p] < self.appearance_vote or (votes[p] >= 0.5 and overlap[p]) for p in rest):
                continue
            votes |= self.appearance.votes(feats, k + 1, parts, [largest])
            kept = max(votes, key=lambda p: (overlap[p] * votes[p], overlap[p], stats[p, cv2.CC_STAT_AREA]))
            unlike = [p for p in votes if p != kept and votes[p] < self.appearance_vote]
            if unlike and votes[kept] >= 0.5:
                fg[k][box][np.isin(parts, unlike)] = 0
                dropped = True
        return dropped

    def _drop_unlike_growth(self, frame: np.ndarray, fg: np.ndarray, prior: np.ndarray,
                            ids: np.ndarray) -> bool:
        """Zero, in place, each object's foreground probability on the groups of its mask's
        new pixels that are large enough and do not look like it (``growth_vote``, see
        :class:`Propagator`); whether any was."""
        dropped = False
        for k, before in enumerate(prior):
            area = int(before.sum())
            if area < self.SMALLEST_JUDGED:
                continue
            mask = ids == k + 1
            new = mask & ~before
            rect = bounds(new)
            if rect is None:
                continue
            count, groups, stats, _ = cv2.connectedComponentsWithStats(new[rect].view(np.uint8),
                                                                       connectivity=8)
            least = max(self.SMALLEST_JUDGED, self.GROWTH_MIN * area)
            judged = [g for g in range(1, count) if stats[g, cv2.CC_STAT_AREA] >= least]
            if not judged:
                continue
            box = region(mask)  # holds rect: the new pixels are the mask's
            labels = _placed(groups, rect, box)
            feats = self.appearance.features(frame[box])
            self._appearance_updated()
            votes = self.appearance.votes(feats, k + 1, labels, judged)
            unlike = [g for g in judged if votes[g] < self.growth_vote]
            if unlike:
                fg[k][box][np.isin(labels, unlike)] = 0
                dropped = True
        return dropped

    def _refind(self, feats: torch.Tensor, k: int, free: np.ndarray) -> np.ndarray | None:
        """Where lost object ``k`` is, by its appearance alone: the largest connected region
        of the frame (whose :meth:`~AppearanceCheck.features` are ``feats``) that looks like
        it, within ``free`` (the pixels no other object's prior holds: a look-alike object
        being tracked is not taken), if at least ``refind_area`` times its given area; else
        ``None``."""
        like = (self.appearance.looks_like(feats, k, free, memory=False) > 0.5) & free
        count, parts, stats, _ = cv2.connectedComponentsWithStats(like.view(np.uint8), connectivity=8)
        if count < 2:
            return None
        best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        if stats[best, cv2.CC_STAT_AREA] < self.refind_area * self.areas.get(k, 0):
            return None
        return parts == best

    def _search_box(self, box, h: int, w: int):
        """A lost object's next box: ``box`` grown by ``search_growth``, at most the frame."""
        if self.search_growth == 1.0:
            return box
        cy, cx, side = box
        side = side * self.search_growth
        return (h / 2, w / 2, float(max(h, w))) if side >= max(h, w) else (cy, cx, side)


def _drawn(frame: np.ndarray, ids: np.ndarray, fg: np.ndarray | None, classes: int,
           out_size: tuple[int, int], edge_refine: float,
           labels_out: np.ndarray | None) -> np.ndarray:
    """What :meth:`Propagator.step` returns for a frame whose class map (at the working size)
    is ``ids``, with its ``fg`` (``None``: given, not predicted)."""
    h, w = ids.shape
    if fg is None:
        out = _resize_ids(ids, out_size)
    elif out_size == (h, w):
        out = snap_edges(frame, ids, classes, edge_refine) if edge_refine else ids
    else:
        probs = snapped_probabilities(frame, ids, classes, edge_refine) if edge_refine else aggregate(fg)
        out = _upsampled_argmax(probs, out_size)
    return out if labels_out is None else _overridden(out, labels_out)


def _parts(mask: np.ndarray) -> tuple[tuple[slice, slice], int, np.ndarray, np.ndarray] | None:
    """The connected parts (8-connected) of an (H, W) uint8 ``mask``, labelled in its bounding
    rectangle alone (raster order: the labels the whole frame would get, for less work): the
    rectangle, the number of labels with the background's, the labels there and cv2's stats
    of each label; ``None`` when ``mask`` is empty or in one part (nothing to drop)."""
    rect = bounds(mask)
    if rect is None:
        return None
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask[rect], connectivity=8)
    return (rect, count, labels, stats) if count > 2 else None


def _grown(rect: tuple[slice, slice], r: int) -> tuple[slice, slice]:
    """The rectangle ``rect`` of a frame, ``r`` pixels wider on each side (cut at the frame's
    top and left edges; slicing cuts the others)."""
    return tuple(slice(max(s.start - r, 0), s.stop + r) for s in rect)


def _within(inner: tuple[slice, slice], outer: tuple[slice, slice]) -> tuple[slice, slice]:
    """The rectangle ``inner`` of a frame, in the coordinates of the rectangle ``outer`` that
    holds it."""
    return tuple(slice(i.start - o.start, i.stop - o.start) for i, o in zip(inner, outer))


def _placed(labels: np.ndarray, rect: tuple[slice, slice], box: tuple[slice, slice]) -> np.ndarray:
    """``labels`` of the rectangle ``rect`` of a frame, placed in the rectangle ``box`` that
    holds it (0 around them)."""
    out = np.zeros((box[0].stop - box[0].start, box[1].stop - box[1].start), np.int32)
    out[_within(rect, box)] = labels
    return out


def _overridden(ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``ids`` where each class that ``labels`` holds takes exactly its pixels there."""
    ids = ids.copy()
    for k in object_ids(labels):
        ids[ids == k] = 0
        ids[labels == k] = k
    return ids


def _drop_new_parts(fg: np.ndarray, prior: np.ndarray, margin: float, ids: np.ndarray) -> bool:
    """Zero, in place, each object's foreground probability on the connected parts of its
    predicted mask (``ids``, the classes of ``fg``) that do not come within ``margin`` times
    its size of its ``prior`` (K, h, w) bool (see :class:`Propagator`); whether any was."""
    dropped = False
    for k, before in enumerate(prior):
        area = int(before.sum())
        if not area:
            continue
        found = _parts((ids == k + 1).view(np.uint8))
        if found is None:
            continue
        box, count, parts, _ = found
        r = int(round(margin * np.sqrt(area)))
        wide = _grown(box, r)  # the prior dilated in the mask's rectangle and r pixels around it
        near = before[wide].view(np.uint8)
        near = (cv2.dilate(near, _square(r)) if r else near)[_within(box, wide)]
        new = np.setdiff1d(np.arange(1, count), parts[near > 0])
        if len(new):
            fg[k][box][np.isin(parts, new)] = 0
            dropped = True
    return dropped


MOVED_MIN = 20  # pixels: smaller groups of new pixels are the flow's noise along an edge
MOVED_NEARER = 0.5  # moved with the scene: under this times as far from its motion as the object's


def _drop_background_motion(fg: np.ndarray, prior: np.ndarray, ids: np.ndarray,
                            flow: np.ndarray, separation: float) -> bool:
    """Zero, in place, each object's foreground probability on the pixels of its mask
    (``ids``, the classes of ``fg``) that are new this frame (outside its ``prior``, the
    flow-warped previous mask) and move with the scene around the object rather than with
    the object (:data:`MOVED_NEARER`; see :class:`Propagator`), in connected groups of at
    least :data:`MOVED_MIN` pixels; only where the two motions differ by at least
    ``separation`` pixels. ``flow`` (h, w, 2): the frame's flow (:attr:`FlowWarper.flow`).
    Whether any pixel was dropped."""
    dropped = False
    for k, before in enumerate(prior):
        area = int(before.sum())
        if area < 64:
            continue
        mask = ids == k + 1
        size = np.sqrt(area)
        ring_width = max(2, int(round(0.15 * size)))  # the scene around the object
        gap = max(1, int(round(0.05 * size)))  # the flow is blurred across the object's edge
        union = mask | before
        box = _grown(bounds(union), ring_width)
        mask, before, union, motion = mask[box], before[box], union[box].view(np.uint8), flow[box]
        new = mask & ~before
        if new.sum() < MOVED_MIN:
            continue
        core = cv2.erode(before.view(np.uint8), _square(gap)) > 0
        ring = (cv2.dilate(union, _square(ring_width)) > 0) & ~(cv2.dilate(union, _square(gap)) > 0)
        if core.sum() < 16 or ring.sum() < 16:
            continue
        own, around = _median_flow(motion, core), _median_flow(motion, ring)
        if np.hypot(*(own - around)) < separation:
            continue  # the object moves as its surroundings do: motion tells nothing here
        moving = motion[new]  # (n, 2): the new pixels' flow alone, not the box's
        moved = np.zeros_like(new)
        moved[new] = np.hypot(*(moving - around).T) < MOVED_NEARER * np.hypot(*(moving - own).T)
        count, parts, stats, _ = cv2.connectedComponentsWithStats(moved.view(np.uint8), connectivity=8)
        groups = stats[:, cv2.CC_STAT_AREA] >= MOVED_MIN
        groups[0] = False  # not moved
        if groups.any():
            fg[k][box][groups[parts]] = 0
            dropped = True
    return dropped


def _median_flow(flow: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The median of each of ``flow``'s two components over ``where`` (each one alone: 3x
    faster than a median along the first axis of the (N, 2) pixels, the same values)."""
    return np.array([np.median(flow[..., c][where]) for c in range(2)], np.float32)


def _square(radius: int) -> np.ndarray:
    return np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)


def propagate(model, frames: np.ndarray, labels0: np.ndarray, clip_len: int,
              out_size: tuple[int, int] | None = None, device: str = "cpu",
              progress=None, flip: bool = False, bf16: bool = False,
              context_scale: float = 1.0, drop_new_parts: bool = False,
              new_part_margin: float = 0.1, tau: int = 1,
              search_growth: float = 1.0, appearance_vote: float = 0.0,
              refind_area: float = 0.0, appearance_update: int = 0,
              flip_uncertain: float = 0.0, edge_refine: float = 0.0,
              motion_check: float = 0.0, growth_vote: float = 0.0,
              counts: dict | None = None) -> np.ndarray:
    """Class indices (T, H, W) uint8 for every frame, propagated from frame 0's ``labels0``
    by a :class:`Propagator`; ``counts``, if given, gets its ``clips`` and ``mirrored``.

    frames: (T, h, w, 3) uint8; labels0: (h, w) class indices 0..K (255 void, taken as
    background). ``out_size`` (H, W): class probabilities are upsampled bilinearly to it
    before the argmax (default: the working size). Frame 0's output is ``labels0`` itself.
    ``flip``: average each clip's prediction with that of its mirror image (test-time
    augmentation; twice the network's compute, see :class:`FinetuneConfig`).
    ``flip_uncertain``: with ``flip``, a clip's mirror image is predicted only when the clip's
    own prediction is uncertain (a probability between 0.1 and 0.9) on at least this share
    of its crop's pixels. An object's edge alone makes a few percent of them uncertain; a
    prediction that hesitates over a part makes more, and there the mirror image's vote
    matters. 0.1, :class:`FinetuneConfig`'s default, mirrors about a quarter of the clips of
    the held-out sequences at the same J&F as mirroring all (README, "Choosing settings on
    held-out sequences"). 0: every clip.
    ``bf16``: run the network under bfloat16 autocast: on CPUs with AMX or AVX512-BF16 the
    flipped 160-pixel clip pair takes 22 ms instead of 36 ms (BENCHMARKS.md); J&F on DAVIS
    2016 val moved by -0.0004 to -0.004 over three fine-tuned networks. Off by default
    (exact float32).
    ``context_scale``: each object's crop is ``context_scale * model.context`` times its
    size. Fine-tuning jitters its crops' side by 0.8-1.25 around ``model.context``, so 0.8
    (:class:`FinetuneConfig`'s default, the lower edge) stays inside what the network was
    trained on and gives the object more pixels and its surroundings less room. Chosen on
    the held-out train sequences over 1.0 and 0.9 (README, "Choosing settings on held-out
    sequences"); fine-tuning itself at the tighter context did worse. On the synthetic
    default tighter crops cost a little, where the flow on 96x160 frames lags fast objects;
    the default follows the real-video result.
    ``drop_new_parts``, ``new_part_margin``, ``search_growth``, ``appearance_vote``,
    ``refind_area``, ``appearance_update``, ``edge_refine``, ``motion_check``,
    ``growth_vote``: see :class:`Propagator`;
    ``tau``: the clip's frames are ``tau`` apart, as in fine-tuning.
    """
    propagator = Propagator(model, clip_len, out_size, device, flip, bf16, context_scale,
                            drop_new_parts, new_part_margin, tau, search_growth, appearance_vote,
                            refind_area, appearance_update, flip_uncertain, edge_refine,
                            motion_check, growth_vote)
    out = np.zeros((len(frames),) + tuple(out_size or frames.shape[1:3]), np.uint8)
    frames = list(frames)  # one array object per frame: `upcoming` is matched by identity
    with core_for_flow(device, len(object_ids(labels0))):
        try:
            for t in range(len(frames)):
                upcoming = frames[t + 1] if t + 1 < len(frames) else None
                out[t] = propagator.step(frames[t], labels0 if t == 0 else None, upcoming=upcoming)
                if t and progress is not None:
                    progress.update(1)
        finally:
            propagator.close()
    if counts is not None:
        counts.update(clips=propagator.clips, mirrored=propagator.mirrored)
    return out


def _network_inputs(model, clips: np.ndarray, flip: bool) -> torch.Tensor:
    """(K, T, S, S, 4) uint8 clips -> the network's (K, 4, T, S, S) float input on its device,
    channels-last (the layout its fused convs run in, here without a copy); with ``flip``
    (2K, ...): the mirrored clips follow, mirrored while still bytes."""
    if flip:
        clips = np.concatenate([clips, clips[:, :, :, ::-1]])
    preprocessor = model.data_preprocessor
    inputs = torch.from_numpy(clips).permute(0, 4, 1, 2, 3)  # (B, T, S, S, C) memory
    return preprocessor.normalize(preprocessor.cast_data({"inputs": inputs})["inputs"])


UNSURE = (0.1, 0.9)  # foreground probabilities flip_uncertain counts as uncertain


def _predict_last(model, inputs: torch.Tensor, flip: bool, bf16: bool = False,
                  flip_uncertain: float = 0.0) -> tuple[torch.Tensor, int]:
    """(B, 4, T, S, S) clips -> (B, S, S) foreground probability of each clip's last frame
    and the number of mirror images predicted; with ``flip``, ``inputs`` are (2B, ...), the
    second half the first's mirror images (:func:`_network_inputs`): the mean of both
    (mirrored back), in one batch; with ``flip_uncertain`` too, ``inputs`` are the B clips
    alone, predicted first, then the mirror images of those uncertain on at least that share
    of their pixels, mirrored here (normalisation is per pixel, so mirroring the network's
    input is mirroring the bytes; see :func:`propagate`). ``bf16``: under bfloat16 autocast."""
    def fg(x):
        x = x.contiguous(memory_format=torch.channels_last_3d)  # oneDNN's fastest layout
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            return model(x, mode="predict_last")[:, 1, -1]

    if not flip:
        return fg(inputs), 0
    if not flip_uncertain:
        plain, mirrored = fg(inputs).chunk(2)
        return (plain + mirrored.flip(-1)) / 2, len(plain)
    probs = fg(inputs)
    unsure = ((probs > UNSURE[0]) & (probs < UNSURE[1])).float().mean((1, 2)) >= flip_uncertain
    idx = unsure.nonzero()[:, 0]
    if len(idx):
        probs = probs.clone()
        probs[idx] = (probs[idx] + fg(inputs[idx].flip(-1)).flip(-1).to(probs.dtype)) / 2
    return probs, len(idx)


def _resize_ids(ids: np.ndarray, size) -> np.ndarray:
    if ids.shape == tuple(size):
        return ids
    x = torch.from_numpy(ids)[None, None].float()
    return F.interpolate(x, size=tuple(size), mode="nearest")[0, 0].byte().numpy()


def _upsampled_argmax(probs: np.ndarray, size) -> np.ndarray:
    x = F.interpolate(torch.from_numpy(probs)[None], size=tuple(size), mode="bilinear",
                      align_corners=False)
    return x[0].argmax(0).byte().numpy()


def classes_to_ids(classes: np.ndarray, object_ids: list[int]) -> np.ndarray:
    """Class indices 0..K -> object ids (class k -> object_ids[k-1])."""
    classes = np.asarray(classes, np.uint8)
    if classes.size and classes.max() > len(object_ids):
        raise ValueError(f"class {classes.max()} but only {len(object_ids)} object ids")
    lut = np.zeros(256, np.uint8)
    lut[: len(object_ids) + 1] = [0] + list(object_ids)
    # cv2.LUT: a table lookup about 10x faster than numpy's indexing at 854x480
    return cv2.LUT(classes.reshape(-1, classes.shape[-1]), lut).reshape(classes.shape)
