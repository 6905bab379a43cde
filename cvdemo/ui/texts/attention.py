"""The Attention tab's text (`cvdemo/ui/attention_tab.py` and its views, `cvdemo/ui/attention_views.py`)."""

from cvdemo.ui.i18n import Catalog

T = Catalog("attention", {
    # layout
    "intro": (
        """A Vision Transformer cuts the image into patches, turns each into a token (often adding a **CLS**
token) and lets every token attend to every other, layer after layer; the class is read from the CLS token, or
from the average of the patch tokens. **Attention rollout** (Abnar & Zuidema, 2020) multiplies the layers'
attention maps (each averaged with the identity, for the residual path) to estimate how much that readout
draws on each patch.""",
        "Vision Transformer 把图像切成图像块（patch），把每块变成一个词元（token，通常还会加一个 **CLS** 词元），"
        "并让每个词元逐层关注所有其他词元；类别从 CLS 词元读出，或从图像块词元的平均读出。"
        "**注意力展开**（attention rollout，Abnar & Zuidema，2020）把各层的注意力图连乘（每层先与单位矩阵取平均，"
        "以计入残差连接），以估计这一读出在多大程度上依赖每个图像块。"),
    "image_input": ("Image (PNG, JPEG, WebP, GIF, BMP or TIFF)", "图像（PNG、JPEG、WebP、GIF、BMP 或 TIFF）"),
    "classify_button": ("Classify", "分类"),
    "examples_shapes": ("Shapes (run on vit-shapes)", "形状（使用 vit-shapes 运行）"),
    "examples_photos": ("Photos (run on facebook/deit-tiny-patch16-224, downloaded from the Hub)",
                        "照片（使用 facebook/deit-tiny-patch16-224 运行，需从 Hub 下载）"),
    "top5": ("Top-5 classes", "Top-5 类别"),
    "rollout_heading": ("#### Attention rollout: what the classification draws on",
                        "#### 注意力展开：分类依据的是图像的哪些部分"),
    "head_fusion": ("Head fusion", "多头融合方式"),
    "fusion_mean": ("mean", "平均"),
    "fusion_max": ("max", "最大值"),
    "fusion_min": ("min", "最小值"),
    "start_layer": ("Start layer", "起始层"),
    "start_layer_info": ("multiply the layers from this one to the last", "从这一层连乘到最后一层"),
    "discard_ratio": ("Discard ratio", "丢弃比例"),
    "discard_info": ("zero this share of the weakest patch-to-patch weights in every layer",
                     "在每一层中，把图像块之间最弱的这一比例的注意力权重置零"),
    "raw_heading": ("#### Raw attention in one layer (from the CLS token, or the patch average)",
                    "#### 单层的原始注意力（从 CLS 词元出发，或取图像块的平均）"),
    "layer": ("Layer", "层"),
    "head": ("Head", "注意力头"),
    "patches_heading": ("#### Patches: how the image becomes tokens", "#### 图像块：图像如何变成词元"),
    "positions_heading": ("#### Position-embedding similarity (as in the ViT paper)",
                          "#### 位置嵌入的相似度（同 ViT 论文）"),
    "positions_caption": (
        "Tile (row, column) shows the cosine similarity of that patch's position embedding to every patch's "
        "(yellow = similar; scale −1…1). A learned embedding that has discovered the 2-D layout shows a bright "
        "spot at the tile's own place, and its row and column.",
        "第（行，列）格小图显示该图像块的位置嵌入与每个图像块的位置嵌入之间的余弦相似度（黄色 = 相似；范围 −1…1）。"
        "若可学习的位置嵌入学到了二维布局，小图会在自身位置出现亮斑，并在所在的行和列上偏亮。"),
    # run-time text
    "summary": ("model **{model_ms:.0f} ms** · total on the server **{total_ms:.0f} ms** · {model} on {device} · "
                "{layers} layers × {heads} heads, {gh}×{gw} patches, {readout}",
                "模型 **{model_ms:.0f} ms** · 服务器端总耗时 **{total_ms:.0f} ms** · {model}，运行于 {device} · "
                "{layers} 层 × {heads} 个头，{gh}×{gw} 个图像块，{readout}"),
    "readout_cls": ("classified from the CLS token", "从 CLS 词元读出类别"),
    "readout_avg": ("classified from the average of the patch tokens", "从图像块词元的平均读出类别"),
    # what pre-processing did to a non-square image (the ViT's input is square)
    # attention_views
    "class_n": ("class {k}", "类别 {k}"),
    "grid_caption": ("The {h}×{w} input is cut into {gh}×{gw} = {patches} patches of {p}×{p} pixels; each "
                     "becomes one token (numbered in reading order) {prefix}= {tokens} tokens.",
                     "{h}×{w} 的输入被切成 {gh}×{gw} = {patches} 个 {p}×{p} 像素的图像块；每块成为一个词元"
                     "（按阅读顺序编号）{prefix}= {tokens} 个词元。"),
    "prefix_cls": ("+ 1 CLS token (number 0) ", "+ 1 个 CLS 词元（编号 0）"),
    "prefix_tokens": ("+ {n} prefix tokens ", "+ {n} 个前缀词元"),
})
