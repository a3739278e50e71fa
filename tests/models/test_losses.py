import torch
import torch.nn.functional as F

from pipeline.labels import VOID
from pipeline.models.losses import BalancedCrossEntropyLoss, CrossEntropyLoss, DiceLoss


def test_balanced_loss_is_osvos_weighted_bce_rescaled():
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 3, 8, 8)
    target = (torch.rand(2, 3, 8, 8) < 0.1).long()  # a small object
    # OSVOS: sigmoid on the foreground-vs-background margin, beta = |Y-| / |Y|, summed.
    margin, y = logits[:, 1] - logits[:, 0], target.float()
    pos, neg = y.sum(), (1 - y).sum()
    weights = torch.where(target == 1, neg / y.numel(), pos / y.numel())
    osvos = F.binary_cross_entropy_with_logits(margin, y, weight=weights, reduction="sum")
    expected = osvos / (2 * pos * neg / y.numel())
    torch.testing.assert_close(BalancedCrossEntropyLoss()(logits, target), expected)


def test_void_pixels_do_not_change_the_losses():
    torch.manual_seed(1)
    logits = torch.randn(1, 3, 2, 6, 6)
    target = torch.randint(0, 3, (1, 2, 6, 6))
    voided = target.clone()
    voided[..., :2] = VOID
    cropped_logits, cropped_target = logits[..., 2:], target[..., 2:]
    for loss in (BalancedCrossEntropyLoss(), CrossEntropyLoss(), DiceLoss()):
        torch.testing.assert_close(loss(logits, voided), loss(cropped_logits, cropped_target))


def test_dice_is_zero_for_a_confident_right_answer_and_high_for_a_wrong_one():
    target = torch.zeros(1, 2, 8, 8, dtype=torch.long)
    target[..., 2:6, 2:6] = 1
    right = F.one_hot(target, 2).movedim(-1, 1).float() * 50
    assert DiceLoss(eps=1e-6)(right, target) < 1e-4
    assert DiceLoss(eps=1e-6)(-right, target) > 0.99
