"""Neural-network building blocks shaped like torch.nn: Module, layers, activations, losses, init."""
from . import functional, init, utils
from . import parallel  # noqa: F401  nn.parallel.DistributedDataParallel (imports no MPI)
from .activations import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .containers import ModuleDict, ModuleList, Sequential
from .dropout import Dropout2d
from .layers import Conv2d, Dropout, Flatten, Identity, Linear, MaxPool2d
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module, Parameter, functional_call
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import AvgPool2d

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CrossEntropyLoss", "Dropout", "Dropout2d",
           "Flatten", "Identity", "IncompatibleKeys", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool2d",
           "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax",
           "Tanh", "functional", "functional_call", "init", "utils"]
