"""The notes' two architecture claims (§3.1, §3.5.5) as experiments: a ResNet against a ViT of the same size on a
small data set, and a CNN + Transformer hybrid against a small ViT. ``ARCHITECTURE_CLAIMS``: name -> `ClaimSpec`,
for `cvdemo.experiments.claims` to add to its catalogue (in place of its waiting "vit-cnn-vs-hybrid-vs-vit").

The variants differ only by ``Overrides.model["architecture"]`` (`cvdemo.experiments.runner.build_classifier`):
the tiny preset's ViT (2 blocks of width 96, 8 px patches, 249,126 weights with 6 classes), a ResNet-18 layout of
widths (10, 19, 38, 76) (248,449 weights, `cvdemo.models.resnet_classifier`) and a hybrid with the ViT's transformer
on a stride-8 stem of widths (7, 15, 29) (248,939 weights, `cvdemo.models.hybrid_vit`): counts within 0.3 %.
Everything else is the same for every variant: the 2,000 generated training images and 512 validation images,
the seeds, 1,200 updates of batch 32 (19 epochs), AdamW at the preset's lr with its cosine schedule, augmentation.
On the project's 2-core CPU, one thread, a run (1,200 updates and 6 evaluations) took 91-247 s for the ViT,
122-317 s for the ResNet and 108-265 s for the hybrid (the spread is the machine's load: 4 jobs shared it), so a
whole claim (2 variants x 5 seeds) takes about 20-45 minutes.

No variant gets the preset's feature hint (``hint=False``): the hint teaches a token model's block to predict a
trained CNN's features, i.e. it hands the ViT a CNN's inductive bias, the very thing these claims compare; and a
ResNet has no tokens to hint (`ClaimSpec.hint_problem` refuses a hint that not every variant can take).
"""

from __future__ import annotations

from cvdemo.experiments.spec import ClaimSpec, Overrides

__all__ = ["ARCHITECTURE_CLAIMS", "CNN_VS_VIT", "HYBRID_VS_VIT"]

_STEPS = 1200
_SEEDS = (0, 1, 2, 3, 4)
_TRAIN_IMAGES = 2000

_SCALE_EN = (f"At this scale ({_TRAIN_IMAGES:,} generated 64 px images, {_STEPS} updates of 32, {len(_SEEDS)} seeds, "
             "about 250,000 weights per model, no pre-training and no feature hint) the ViT has to learn from "
             "scratch what the convolutions assume; the paper's comparison is after pre-training on ImageNet-21k "
             "or JFT-300M, and its hybrids use much larger ResNet stems.")
_SCALE_ZH = (f"在这个规模下（{_TRAIN_IMAGES:,} 张生成的 64 像素图像、每步 32 张共 {_STEPS} 步、"
             f"{len(_SEEDS)} 个随机种子、每个模型约 25 万个参数，没有预训练，也没有特征提示），"
             "ViT 必须从零学到卷积事先假定的东西；论文是在 ImageNet-21k 或 JFT-300M "
             "上预训练后比较的，它的混合模型用的 ResNet 主干也大得多。")


def _architecture_claim(name: str, section: str, claim_en: str, claim_zh: str, rival: str, label: str,
                        why_en: str, why_zh: str) -> ClaimSpec:
    """``label`` (architecture ``rival``) against the tiny preset's ViT, expected to win: top-1 accuracy on 512
    validation images, a point every 200 updates."""
    return ClaimSpec(
        name=name, section=section, claim_en=claim_en, claim_zh=claim_zh, task="classify", preset="tiny",
        varied=f"architecture: {label} vs ViT (matched weights)",
        variants={label: Overrides(model={"architecture": rival}), "ViT": Overrides(model={"architecture": "vit"})},
        metric="accuracy", direction="higher", relation="better", comparisons=((label, "ViT"),), steps=_STEPS,
        eval_every=200, seeds=_SEEDS, num_train_images=_TRAIN_IMAGES, num_val_images=512, hint=False,
        why_may_differ_en=f"{why_en} {_SCALE_EN}", why_may_differ_zh=f"{why_zh}{_SCALE_ZH}")


CNN_VS_VIT = _architecture_claim(
    "cnn-vs-vit-small-data", "3.1",
    "When the training set is not large enough, a ViT usually does worse than a ResNet of the same size: compared "
    "with a CNN, the Transformer lacks inductive bias (prior knowledge, assumptions made in advance).",
    "当训练数据集不够大的时候，ViT的表现通常比同等大小的ResNets要差，因为Transformer和CNN相比缺少归纳偏置，"
    "即一种先验知识，提前做好的假设。",
    "resnet", "ResNet",
    "The ViT paper (Fig. 3, 4) finds ResNets ahead when pre-trained on ImageNet or small JFT subsets and ViTs ahead "
    "from about 100M images; here the data set is small on purpose and the weights are matched, so the notes "
    "predict the ResNet to win.",
    "ViT 论文（图 3、4）中，在 ImageNet 或较小的 JFT 子集上预训练时 ResNet 更好，约 1 亿张图像起 ViT 更好；这里特意用"
    "小数据集，并让参数量相当，所以按笔记 ResNet 应该胜出。")

HYBRID_VS_VIT = _architecture_claim(
    "hybrid-vs-vit", "3.5.5",
    "In the original paper's results, a CNN + Transformer hybrid does slightly better than ViT when the models are "
    "small; once the models are large enough, the hybrid is no longer as good as ViT.",
    "在原论文所展示的实验结果中，CNN+transformer混合模型在模型较小时的表现略优于vit网络，但在模型足够大后，"
    "混合模型的表现就没有vit网络好了。",
    "hybrid", "hybrid",
    "The ViT paper (Fig. 5) compares at equal pre-training compute, where small hybrids lead; here both models have "
    "the same transformer and the same weight count, and the hybrid's stem (three stride-2 convolution stages) "
    "replaces the ViT's 8x8 patch projection.",
    "ViT 论文（图 5）是在相同预训练计算量下比较的，小的混合模型领先；这里两个模型的 transformer 相同、参数量相同，"
    "混合模型用主干（三个步长为 2 的卷积阶段）代替 ViT 的 8x8 图像块投影。")

ARCHITECTURE_CLAIMS: dict[str, ClaimSpec] = {spec.name: spec for spec in (CNN_VS_VIT, HYBRID_VS_VIT)}
