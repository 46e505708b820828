"""Training with stochastic truncation: schedules and SCSModel."""

from scs_keras.training.model import SCSModel
from scs_keras.training.schedules import (
    ASTSGD,
    STSGD,
    OverlapCoherence,
    TruncationSchedule,
)
