"""The six actions of the original app, in its order: the classes of the RNN-HAR-2D-Pose database
(ids 1..6), the labels of the original checkpoint, of the synthetic generator and of the shipped
model. The one place they are written down; any other label set works wherever labels are read
from a model file."""

ORIGINAL_ACTIONS: tuple[str, ...] = (
    "JUMPING",
    "JUMPING_JACKS",
    "BOXING",
    "WAVING_2HANDS",
    "WAVING_1HAND",
    "CLAPPING_HANDS",
)
