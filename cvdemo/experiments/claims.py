"""The claims of the study notes (``../shared/study-notes/``, §3-§4) as experiments (`ClaimSpec`), in the notes'
order. ``CLAIMS``: name -> spec; `runnable_claims()` the ones today's models can vary.

Runnable with the existing options: ViT ``pos_embed`` learned vs sin-cos, and 1-D learned vs 2-D learned (row and
column tables) vs none, ``global_pool`` class token vs GAP, ``act_layer`` GELU vs ReLU and ``norm_layer`` LayerNorm vs
BatchNorm (same weights: an activation has none, and BatchNorm's statistics are buffers), ``num_heads`` 1/2/4/8 at
width 96 (same weights: q/k/v and the output projection are D x D whatever the heads), DETR auxiliary decoder losses
on/off (`DetectionTask(aux_loss=...)`), DETR position encoding sine vs learned (`DETRConfig.position_embedding`). The
others list in ``needs`` the model option they wait for; the runner refuses them (`ClaimNeedsOptionError`).

Budgets (estimated from the presets' measured speeds on the project's 2-core CPU, one thread; not yet measured for
these specs): the tiny ViT runs ~6.7 updates/s, so a 1200-update run is ~3 min and a 2-variant x 5-seed claim ~30
min; the tiny DETR runs ~2.5 updates/s with 2 decoder layers, so 1000 updates ~7 min and 2 variants x 3 seeds
~40 min (more with 6 decoder layers). Every ViT claim uses the preset's feature hint (`cvdemo.training.feature_hint`)
for every variant: without it the tiny ViT stays near chance for thousands of updates and no variant could be told
from another. Every DETR claim starts its backbone from detr-shapes' (the preset's), as DETR starts from ImageNet.
"""

from __future__ import annotations

from cvdemo.experiments.architecture_claims import ARCHITECTURE_CLAIMS
from cvdemo.experiments.spec import ClaimSpec, Overrides

__all__ = ["CLAIMS", "runnable_claims"]

_SCALE_EN = ("At this scale (a 2-block ViT of width 96, {steps} updates of 32 generated 64 px images, {n} seeds) "
             "differences of a few points are within seed noise; the paper trained on ImageNet-21k/JFT for hundreds "
             "of thousands of steps.")
_SCALE_ZH = ("在这个规模下（宽 96 的 2 层 ViT，{steps} 步、每步 32 张生成的 64 像素图像，{n} 个随机种子），"
             "几个百分点的差别在种子噪声之内；论文是在 ImageNet-21k/JFT 上训练了几十万步。")
_DETR_EN = ("At this scale (a tiny DETR: ResNet-18 to layer2, width 128, 10 queries, {steps} updates on generated "
            "shapes, {n} seeds) AP is still low and varies widely between seeds; the DETR paper trained for 300-500 "
            "epochs on COCO.")
_DETR_ZH = ("在这个规模下（微型 DETR：ResNet-18 到 layer2、宽 128、10 个查询，在生成的形状上训练 {steps} 步，"
            "{n} 个随机种子），AP 仍然很低，且不同种子之间差别很大；DETR 论文在 COCO 上训练了 300-500 个 epoch。")


def _vit(name: str, section: str, claim_en: str, claim_zh: str, varied: str, variants: dict[str, Overrides],
         relation: str, why_en: str, why_zh: str, *, comparisons=(), margin: float = 0.0, steps: int = 1200,
         seeds=(0, 1, 2, 3, 4), needs=(), num_train_images: int | None = None) -> ClaimSpec:
    """A ViT claim on the tiny preset: top-1 accuracy on 512 validation images, a point every 200 updates."""
    fill = {"steps": steps, "n": len(seeds)}
    return ClaimSpec(name=name, section=section, claim_en=claim_en, claim_zh=claim_zh, task="classify",
                     preset="tiny", varied=varied, variants=variants, metric="accuracy", direction="higher",
                     relation=relation, comparisons=tuple(comparisons), margin=margin, steps=steps, eval_every=200,
                     seeds=tuple(seeds), num_train_images=num_train_images, num_val_images=512, needs=tuple(needs),
                     why_may_differ_en=f"{why_en} {_SCALE_EN.format(**fill)}",
                     why_may_differ_zh=f"{why_zh}{_SCALE_ZH.format(**fill)}")


def _detr(name: str, section: str, claim_en: str, claim_zh: str, varied: str, variants: dict[str, Overrides],
          relation: str, why_en: str, why_zh: str, *, comparisons=(), margin: float = 0.0, steps: int = 1000,
          seeds=(0, 1, 2), needs=(), base: Overrides | None = None) -> ClaimSpec:
    """A DETR claim on the tiny preset: COCO AP on 128 validation images, a point every 100 updates."""
    fill = {"steps": steps, "n": len(seeds)}
    return ClaimSpec(name=name, section=section, claim_en=claim_en, claim_zh=claim_zh, task="detect",
                     preset="tiny", varied=varied, variants=variants, metric="AP", direction="higher",
                     relation=relation, comparisons=tuple(comparisons), margin=margin, steps=steps, eval_every=100,
                     seeds=tuple(seeds), num_val_images=128, needs=tuple(needs), base=base or Overrides(),
                     why_may_differ_en=f"{why_en} {_DETR_EN.format(**fill)}",
                     why_may_differ_zh=f"{why_zh}{_DETR_ZH.format(**fill)}")


def _model(**fields) -> Overrides:
    return Overrides(model=fields)


_CLAIM_LIST = [
    _vit("vit-pos-embed-sincos-vs-learned", "3.3",
         "Some ViTs keep the Transformer's sine-cosine position embedding, others learn the table with the other "
         "weights; the notes present the two as interchangeable (they give about the same result).",
         "部分vit网络的位置嵌入沿用传统transformer的位置嵌入方式，使用正弦余弦函数的方式进行嵌入，而也有部分vit网络使用"
         "可学习的位置编码，把参数添加到可训练的参数中一起训练优化。",
         "ViTConfig.pos_embed", {"learned": _model(pos_embed="learn"), "sin-cos": _model(pos_embed="sincos")},
         "equal", "The notes say 'no big difference' of 1-D vs 2-D tables; MoCo v3 and MAE use a fixed 2-D sin-cos "
         "table where the original ViT learns one, and MoCo v3 reports the two within about half a point. A fixed "
         "2-D table is a prior that a small model on small data may profit from.",
         "笔记对一维和二维编码说“没有太大的区别”；MoCo v3 和 MAE 用固定的二维正弦余弦表，而原始 ViT 学习位置表，MoCo "
         "v3 报告"
         "两者相差约半个百分点。固定的二维表是一种先验，小模型在小数据上可能从中受益。", margin=0.05),
    _vit("vit-pos-embed-1d-vs-2d", "3.3",
         "Position embeddings can be 1-D (patches numbered 0..N) or 2-D (x and y); ViT uses 1-D, and experiments "
         "show that 1-D and 2-D make no big difference to the result (no embedding at all is the reference).",
         "位置编码包括一维和二维的编码方式，一维的编码方式为把每个patch按顺序从0到197编码，二维的编码方式为同时考虑x"
         "轴和y轴"
         "的信息……vit网络使用的是一维的编码方式，实际上实验表明一维和二维的编码方式对于结果没有太大的区别。",
         "ViTConfig.pos_embed",
         {"1-D learned": _model(pos_embed="learn"), "2-D learned": _model(pos_embed="learn-2d"),
          "none": _model(pos_embed="none")},
         "equal", "The ViT paper (Table 8) finds 1-D, 2-D and relative embeddings within 0.2 points, and no "
         "embedding about 3 points worse.",
         "ViT 论文（表 8）中一维、二维和相对位置编码相差不到 0.2 个百分点，没有位置编码约差 3 个百分点。",
         comparisons=[("2-D learned", "1-D learned")], margin=0.05),
    _vit("vit-class-token-vs-gap", "3.4",
         "The class token can be replaced by global average pooling: for image classification the result is not "
         "much different from using the class token.",
         "而类别令牌也可以换成全局平均池化，对于图像分类任务的输出结果和使用类别令牌并没有很大的差别。",
         "ViTConfig.global_pool (and class_token)",
         {"class token": _model(global_pool="token", class_token=True),
          "GAP": _model(global_pool="avg", class_token=False)},
         "equal", "The ViT paper (Fig. 9) found the two equal only after tuning the learning rate for each; both "
         "variants here share the preset's learning rate, which was tuned for GAP.",
         "ViT 论文（图 9）中两者只有在分别调整学习率之后才相当；这里两种做法共用预设的学习率，而它是为全局平均池化调"
         "的。",
         margin=0.05),
    _vit("vit-gelu-vs-relu", "3.5.2",
         "GELU, unlike ReLU's hard threshold, weights an input by its size (through the Gaussian CDF); it performs "
         "best in NLP, especially in Transformers, and avoids vanishing gradients. (The notes write 'relu' in the "
         "second and third sentences where the heading's GELU is meant.)",
         "不同于进行阈值硬判决的 relu 函数，relu 函数根据输入的大小赋予其应有的权重，而实现是通过最常用的高斯分布累积"
         "函数。"
         "relu 在当前 NLP 领域中表现最佳，尤其在 transformer 架构中表现最好。能避免梯度消失问题。",
         "ViTConfig.act_layer", {"GELU": _model(act_layer="gelu"), "ReLU": _model(act_layer="relu")},
         "better", "GELU's reported advantage over ReLU (Hendrycks & Gimpel 2016) is small and was measured on other "
         "tasks and at other scales.",
         "文献中 GELU 相对 ReLU 的优势（Hendrycks 与 Gimpel，2016）很小，而且是在别的任务和规模上测得的。",
         comparisons=[("GELU", "ReLU")]),
    _vit("vit-layernorm-vs-batchnorm", "3.5.3",
         "LayerNorm comes from NLP, where it is the mainstream and experiments show it works better; BatchNorm "
         "works poorly in Transformers because variable-length sequences give no stable statistics.",
         "LN的使用起源于 NLP 领域，且当前NLP中主流就是用LN，实验结果表明效果更优。BN 在Transformer中不太好用的原因可"
         "能是："
         "……时间序列是不定长的……所以很难得到稳定的统计量。",
         "ViTConfig.norm_layer",
         {"LayerNorm": _model(norm_layer="layernorm"), "BatchNorm": _model(norm_layer="batchnorm")},
         "better", "Images give every ViT input the same length, so the notes' reason for BatchNorm's trouble does not "
         "apply here; with a batch of 32, BatchNorm's statistics are noisy in another way.",
         "图像让 ViT 的每个输入长度相同，所以笔记里 BN 不好用的理由在这里不成立；批大小为 32 时，BN 的统计量以另一种"
         "方式带有噪声。",
         comparisons=[("LayerNorm", "BatchNorm")]),
    _vit("vit-heads", "3.5.4",
         "Several heads let the Transformer attend to different subspaces and capture richer features; the "
         "matrices keep their size, only each head's width changes, so the cost is about that of one head.",
         "多头保证了transformer可以注意到不同子空间的信息，捕捉到更加丰富的特征信息。多头可以使参数矩阵形成多个子空间，"
         "矩阵整体的size不变，只是改变了每个head对应的维度大小……计算量和单个head差不多。",
         "ViTConfig.num_heads (width 96)",
         {"1 head": _model(num_heads=1), "2 heads": _model(num_heads=2), "4 heads": _model(num_heads=4),
          "8 heads": _model(num_heads=8)},
         "better", "Michel et al. (2019) found many heads can be pruned after training; at width 96, 8 heads leave "
         "12 dimensions per head, which may be too few.",
         "Michel 等人（2019）发现训练后很多头可以剪掉；宽 96 时 8 个头每头只有 12 维，可能太少。",
         comparisons=[("2 heads", "1 head"), ("4 heads", "1 head"), ("8 heads", "1 head")]),
    *ARCHITECTURE_CLAIMS.values(),  # ResNet vs ViT and hybrid vs ViT at matched weights (§3.1, §3.5.5)
    _detr("detr-aux-loss", "4.2.2",
          "The outputs of all 6 decoder layers go through the shared FFN to predict classes and boxes, and all take "
          "part in the loss: this is deep supervision (auxiliary losses), which helps DETR train.",
          "6个Decoder_layer的输出都会过一个共享的FFN得到预测类别和位置结果，然后参与loss的计算，这是深监督。",
          "DetectionTask(aux_loss=...)",
          {"aux loss on": Overrides(task={"aux_loss": True}), "aux loss off": Overrides(task={"aux_loss": False})},
          "better", "The DETR paper adds the auxiliary losses because it 'found [them] helpful', without an ablation; "
          "their effect should grow with the decoder's depth, so the tiny DETR here gets the notes' 6 decoder layers.",
          "DETR 论文因为“发现有帮助”而加入辅助损失，但没有做消融实验；解码器越深作用应越大，所以这里的微型 DETR 用笔"
          "记中的 "
          "6 层解码器。",
          comparisons=[("aux loss on", "aux loss off")], base=_model(decoder_layers=6)),
    _detr("detr-position-encoding", "4.2.1",
          "DETR's position encoding is like the Transformer's: a fixed sine-cosine encoding or a learned one can be "
          "used, added to the input before each Transformer block.",
          "DETR的位置编码与传统transformer的位置编码类似，可以用正弦余弦函数的固定位置编码，或者使用可学习的位置编码，"
          "最后将位置编码向量和输入向量相加，送入transformer块中。",
          "DETRConfig.position_embedding",
          {"sine": _model(position_embedding="sine"), "learned": _model(position_embedding="learned")},
          "equal", "The DETR paper (Table 3) finds learned encodings at every layer within about 1 AP of sine ones, "
          "after 300 epochs on COCO.",
          "DETR 论文（表 3）中每层使用可学习编码与正弦编码相差约 1 AP，那是在 COCO 上训练 300 个 epoch 之后。",
          margin=0.02),
    _detr("detr-one-to-one-no-nms", "4.3.1",
          "After bipartite matching every object query has its own target, with no overlaps, so DETR needs no "
          "non-maximum suppression; a one-to-many assignment (as CNN detectors use) does.",
          "理论上来说，经过这一步的操作后，每一个object query都会有唯一匹配的目标，不会存在重叠，所以DETR不需要nms非"
          "极大"
          "抑制来进行后处理。",
          "DetectionTask(assignment=...) and DetectionTask(nms_iou=...)",
          {"one-to-one": Overrides(task={"assignment": "hungarian"}),
           "one-to-many, no NMS": Overrides(task={"assignment": "one-to-many", "nms_iou": None}),
           "one-to-many + NMS": Overrides(task={"assignment": "one-to-many", "nms_iou": 0.5})},
          "better", "The DETR paper (Fig. 4) shows NMS helps the first decoder layers and not the last; "
          "a one-to-many DETR (e.g. DETA, H-DETR) trains faster but needs NMS. The one-to-many assignment here is "
          "DETA's: the Hungarian pairs plus every query whose box has IoU >= 0.5 with an object; the two "
          "one-to-many variants are the same training, evaluated without and with class-wise NMS at IoU 0.5.",
          "DETR 论文（图 4）表明 NMS 对前几层解码器有帮助，对最后一层没有；一对多的 DETR（如 DETA、H-DETR）"
          "训练更快，但需要 NMS。这里的一对多分配沿用 DETA：匈牙利匹配的配对，再加上预测框与某个目标 IoU >= 0.5 的"
          "所有查询；两个一对多变体是同一种训练，分别在不做和做类别内 NMS（IoU 0.5）的情况下评估。",
          comparisons=[("one-to-one", "one-to-many, no NMS"), ("one-to-many + NMS", "one-to-many, no NMS")]),
]

CLAIMS: dict[str, ClaimSpec] = {spec.name: spec for spec in _CLAIM_LIST}


def runnable_claims() -> dict[str, ClaimSpec]:
    """The claims whose variants today's models can build (no ``needs``)."""
    return {name: spec for name, spec in CLAIMS.items() if spec.runnable}
