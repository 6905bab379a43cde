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
    # the Explain section (issue 15)
    "explain_heading": ("#### Explain: which patches does the class depend on, and can the map be trusted?",
                        "#### 解释：这个类别依赖哪些图像块？这张图可信吗？"),
    "explain_intro": (
        """Four maps, from the cheapest to the most class-specific. **Raw attention** (the layer and head chosen
above) shows where one layer looks: it ignores the other layers, the residual path and the values, so it can look
convincing and still say little about the decision. **Rollout** (the settings above) multiplies every layer's
attention: it is *class-agnostic*, the same map whichever class you pick. **Gradient rollout** weights each
layer's attention by the gradient of the chosen class's score before rolling out: class-specific, but a heuristic.
**Relevance** (Chefer et al., 2021) accumulates gradient × attention through all layers for the chosen class.
A map is only as trustworthy as its **deletion test**: blur the map's most relevant patches first and watch the
class's probability; a faithful map makes it fall *faster* than a random order of patches (lower deletion AUC).
Insertion is the reverse (put the patches back into a blurred image, most relevant first: higher AUC is better).
When a map's deletion AUC is not below the random one, the page says so.""",
        """四种图，从最便宜到最针对类别。**原始注意力**（上方选择的层和头）显示某一层看向哪里：它忽略了其他层、"""
        """残差连接和值向量（value），因此看起来可能很有说服力，却说明不了多少决策依据。**注意力展开**（上方的设置）"""
        """连乘所有层的注意力：它*与类别无关*，无论选哪个类别都是同一张图。**梯度展开**先用所选类别得分的梯度"""
        """给每层注意力加权再展开：针对类别，但属于启发式方法。**相关性**（Chefer 等，2021）针对所选类别，"""
        """把梯度 × 注意力逐层累积到所有层。一张图是否可信，要看它的**删除测试**：先模糊图中最相关的图像块，"""
        """观察该类别的概率；忠实的图会让概率比随机顺序删除时下降得*更快*（删除 AUC 更低）。插入测试相反"""
        """（按相关性从高到低把图像块放回模糊图像中：AUC 越高越好）。"""
        """若某张图的删除 AUC 不低于随机顺序，页面会明确指出。"""),
    "method": ("Method", "方法"),
    "method_attention": ("raw attention (layer, head above)", "原始注意力（上方的层和头）"),
    "method_rollout": ("rollout (settings above)", "注意力展开（上方的设置）"),
    "method_gradient_rollout": ("gradient rollout", "梯度展开"),
    "method_relevance": ("relevance (Chefer)", "相关性（Chefer）"),
    "target_class": ("Class to explain", "要解释的类别"),
    "target_info": ("the predicted class, or any class of the model", "预测的类别，或模型的任一类别"),
    "target_predicted": ("predicted: {name}", "预测类别：{name}"),
    "measure_label": ("Measure faithfulness", "测量忠实度"),
    "measure_button": ("Measure faithfulness ({runs} model runs, about {seconds:.0f} s)",
                       "测量忠实度（{runs} 次模型运行，约 {seconds:.0f} 秒）"),
    "distance_heading": ("#### How far each head looks: mean attention distance",
                         "#### 每个头看多远：平均注意力距离"),
    "distance_caption": (
        "For each layer and head: the distance between a patch and the patches it attends to, weighted by the "
        "attention and averaged over the patches, in pixels of the model's input (as the ViT paper's Figure 7). "
        "Low = a local head (like a small convolution); high = a head that gathers from the whole image.",
        "对每一层的每个头：一个图像块与它所关注的图像块之间的距离，按注意力加权并对所有图像块取平均，"
        "单位为模型输入的像素（同 ViT 论文图 7）。"
        "数值低 = 局部的头（类似小卷积核）；数值高 = 从整幅图像汇集信息的头。"),
    # the Explain section at run time
    "explain_summary": ("**{method}** for class **{target}**{predicted} · map {map_ms:.0f} ms",
                        "**{method}**，类别 **{target}**{predicted} · 生成此图 {map_ms:.0f} ms"),
    "predicted_mark": (" (predicted)", "（预测类别）"),
    "class_agnostic_note": ("This method does not depend on the class: the map is the same for every class; only "
                            "the curves below score the class you picked.",
                            "此方法与类别无关：对每个类别都是同一张图；只有下方的曲线按你所选的类别打分。"),
    "auc_table": ("| | deletion AUC (lower is better) | insertion AUC (higher is better) |\n|---|---|---|\n"
                  "| this map | {deletion:.3f} | {insertion:.3f} |\n"
                  "| random order of patches | {random_deletion:.3f} | {random_insertion:.3f} |\n\n"
                  "{steps} steps, {runs} model runs, {seconds:.1f} s",
                  "| | 删除 AUC（越低越好） | 插入 AUC（越高越好） |\n|---|---|---|\n"
                  "| 此图 | {deletion:.3f} | {insertion:.3f} |\n"
                  "| 随机顺序的图像块 | {random_deletion:.3f} | {random_insertion:.3f} |\n\n"
                  "{steps} 步，{runs} 次模型运行，{seconds:.1f} 秒"),
    "verdict_beats_random": ("✅ **Deletion AUC below random**: blurring this map's top patches first lowers the "
                             "class's probability sooner than a random order. By this test the map points at what "
                             "the model uses.",
                             "✅ **删除 AUC 低于随机顺序**：先模糊此图最相关的图像块，类别概率比随机顺序下降得更早。"
                             "按此测试，这张图指向了模型真正使用的区域。"),
    "verdict_not_better": ("⚠️ **Not faithful here: the deletion AUC is not lower than the random order's.** "
                           "Removing the patches this map ranks first hurts the class no sooner than removing "
                           "patches at random: do not read this map as what the model uses for this image.",
                           "⚠️ **此处不可信：删除 AUC 并不低于随机顺序。**先删除此图排在前面的图像块，"
                           "对该类别的影响并不比随机删除更早：不要把这张图当作模型在这张图像上的依据。"),
    "verdict_inconclusive": ("ℹ️ **The test cannot tell here**: blurring patches, in this map's order or a random "
                             "one, never moves the class's probability by 0.05, so no order of patches beats "
                             "another. Neither this map nor the random one is confirmed.",
                             "ℹ️ **此处测试无法判断**：无论按此图的顺序还是随机顺序模糊图像块，该类别的概率变化"
                             "都不到 0.05，任何删除顺序都不比其他顺序更好。此图与随机顺序都无法得到确认。"),
    "not_measured": ("Faithfulness not measured yet: it takes {runs} model runs (about {seconds:.0f} s for this "
                     "model). Press **Measure faithfulness**.",
                     "尚未测量忠实度：需要 {runs} 次模型运行（此模型约 {seconds:.0f} 秒）。请点击**测量忠实度**。"),
})

# The figures of an explanation's faithfulness and of the attention distance (`cvdemo/ui/explain_figures.py`), shared
# by the Attention and Detect tabs: their own catalog, so that either tab's texts stay its own
FIGURES = Catalog("explain_figures", {
    "fig_deletion": ("deletion (AUC {auc:.3f})", "删除（AUC {auc:.3f}）"),
    "fig_insertion": ("insertion (AUC {auc:.3f})", "插入（AUC {auc:.3f}）"),
    "fig_random_deletion": ("random deletion (AUC {auc:.3f})", "随机删除（AUC {auc:.3f}）"),
    "fig_random_insertion": ("random insertion (AUC {auc:.3f})", "随机插入（AUC {auc:.3f}）"),
    "fig_fraction_axis": ("share of the map's cells removed / inserted (a ViT's cells are its patches)",
                          "删除 / 插入的单元格比例（ViT 的单元格即图像块）"),
    "fig_score_axis": ("score of the target", "目标的得分"),
    "fig_faithfulness_title": ("Most relevant patches first: deletion should fall fast, insertion rise fast",
                               "先处理最相关的图像块：删除曲线应迅速下降，插入曲线应迅速上升"),
    "fig_curve_hover": ("{name}<br>share {x}: score {y}", "{name}<br>比例 {x}：得分 {y}"),
    "fig_layer_axis": ("layer", "层"),
    "fig_distance_axis": ("mean attention distance (pixels)", "平均注意力距离（像素）"),
    "fig_distance_title": ("How far each head looks (one point per head, as the ViT paper's Figure 7)",
                           "每个注意力头看多远（每个头一个点，同 ViT 论文图 7）"),
    "fig_distance_hover": ("layer {layer}, head {head}: {px} px", "第 {layer} 层，第 {head} 个头：{px} 像素"),
    "fig_distance_mean": ("mean of heads", "各头平均"),
})
