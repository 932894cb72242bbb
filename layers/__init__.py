"""Recurrent cells and layers written from the documented equations (Keras 3, `keras.ops` only).

Elman network, IRNN, LSTM (1997 constant error carousel, forget gate,
peepholes, CIFG, Greff et al. ablations), GRU, Clockwork RNN and SCRN, plus
`get`/`available`/`stack` to build them by name and `gradient_flow` to
measure how far back the error signal reaches.
"""

from layers.base import FusedRecurrentLayer, RecurrentCell, RecurrentCellLayer, RecurrentLayer
from layers.clockwork import Clockwork, ClockworkCell
from layers.elman import IRNN, Elman, ElmanCell
from layers.gradient_flow import gradient_flow, plot_gradient_flow
from layers.gru import GRU, GRUCell
from layers.lstm import LSTM, LSTMCell
from layers.registry import available, get, stack
from layers.scrn import SCRN, SCRNCell

__all__ = [
    "GRU",
    "IRNN",
    "LSTM",
    "SCRN",
    "Clockwork",
    "ClockworkCell",
    "Elman",
    "ElmanCell",
    "FusedRecurrentLayer",
    "GRUCell",
    "LSTMCell",
    "RecurrentCell",
    "RecurrentCellLayer",
    "RecurrentLayer",
    "SCRNCell",
    "available",
    "get",
    "gradient_flow",
    "plot_gradient_flow",
    "stack",
]
