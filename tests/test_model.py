import torch
import torch.nn as nn

from lenet_bench.core.model import LeNet5
from lenet_bench.problem import PARAMETER_COUNT


class BriefLeNet5(nn.Module):
    """The class of the brief's starter code, verbatim in substance, as the reference."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, stride=1)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5, stride=1)
        self.fc1 = nn.Linear(256, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = torch.tanh(self.conv1(x))
        x = torch.max_pool2d(x, kernel_size=2, stride=2)
        x = torch.tanh(self.conv2(x))
        x = torch.max_pool2d(x, kernel_size=2, stride=2)
        x = x.view(-1, 256)
        x = torch.tanh(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        x = self.fc3(x)
        return x


def test_output_shape():
    assert LeNet5()(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_parameter_count_and_fc_sizes():
    model = LeNet5()
    assert sum(p.numel() for p in model.parameters()) == PARAMETER_COUNT == 44_426
    assert model.fc1.weight.numel() + model.fc2.weight.numel() == 30_720 + 10_080


def test_state_dict_loads_strictly_into_the_brief_class_and_computes_the_same():
    torch.manual_seed(0)
    ours = LeNet5()
    brief = BriefLeNet5()
    brief.load_state_dict(ours.state_dict(), strict=True)
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(brief(x), ours(x), rtol=0, atol=0)


def test_default_initialisation_is_the_brief_one():
    torch.manual_seed(42)
    ours = LeNet5()
    torch.manual_seed(42)
    brief = BriefLeNet5()
    for a, b in zip(ours.state_dict().values(), brief.state_dict().values()):
        assert torch.equal(a, b)
