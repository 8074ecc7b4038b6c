"""The graphgrad model zoo's classifiers as torch.nn modules, with the same architecture and
the same state_dict names (models/lenet.cpp, resnet.cpp, mobilenet.cpp), so a checkpoint
written by either framework loads into the other.

    model = build("resnet20")      # lenet5, resnet20, mobilenet_v1; input [N, 1, 28, 28]
"""
import torch
from torch import nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    """conv1 padded by 2 so 28x28 behaves like the original 32x32: 61,706 parameters."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:  # projection shortcut (option B), torchvision names
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """CIFAR-style ResNet, depth 6n + 2, widths w, 2w, 4w."""

    def __init__(self, depth=20, num_classes=10, width=16, in_channels=1):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        cin = width
        for stage in range(3):
            blocks = []
            for b in range(n):
                cout = width << stage
                blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
                cin = cout
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def conv_bn(cin, cout, k, stride, groups=1):
    """torchvision's Conv2dNormActivation: .0 conv (no bias), .1 batch norm, .2 ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class MobileNetV1(nn.Module):
    """graphgrad's 28x28 MobileNet v1: stem 3x3 32 (stride 1), seven separable layers."""

    STAGES = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)]

    def __init__(self, num_classes=10, alpha=1.0, in_channels=1):
        super().__init__()
        width = lambda c: max(8, round(c * alpha))  # noqa: E731
        layers = [conv_bn(in_channels, width(32), 3, 1)]
        cin = width(32)
        for c, s in self.STAGES:
            layers.append(nn.Sequential(conv_bn(cin, cin, 3, s, groups=cin), conv_bn(cin, width(c), 1, 1)))
            cin = width(c)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.features(x)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build(name, num_classes=10):
    if name in ("lenet5", "lenet"):
        return LeNet5(num_classes)
    if name in ("resnet20", "resnet"):
        return ResNet(20, num_classes)
    if name in ("mobilenet_v1", "mobilenet"):
        return MobileNetV1(num_classes)
    raise SystemExit(f"unknown model {name!r} (lenet5, resnet20, mobilenet_v1)")
