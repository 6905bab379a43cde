"""The Detect tab's text (`cvdemo/ui/detect_tab.py` and its views, `cvdemo/ui/detect_views.py`)."""

from cvdemo.ui.i18n import Catalog

T = Catalog("detect", {
    # layout
    "intro": (
        """DETR predicts a fixed set of **object queries**; each query outputs a class (or *no object*) and a
box. Upload an image or pick an example; move the **score threshold** to keep more or fewer detections (the
model does not run again). Pick a detection (or click a table row) to see where its query looked in the image
(**decoder cross-attention**), and **click on the image** to see where the encoder position under your click
looks (**encoder self-attention**).""",
        "DETR 预测一组数量固定的**目标查询**（object query）；每个查询输出一个类别（或*无目标*）和一个框。"
        "上传一张图像或选一个示例；拖动**分数阈值**可保留更多或更少的检测结果（模型不会重新运行）。"
        "选择一个检测结果（或点击表格中的一行），可查看它的查询在图像中关注了哪里（**解码器交叉注意力**）；"
        "**点击图像**，可查看点击处的编码器位置关注了哪里（**编码器自注意力**）。"),
    "image_input": ("Image (PNG, JPEG, WebP, GIF, BMP or TIFF)", "图像（PNG、JPEG、WebP、GIF、BMP 或 TIFF）"),
    "threshold": ("Score threshold", "分数阈值"),
    "threshold_info": ("keep detections whose best class probability is above this",
                       "保留最佳类别概率高于此值的检测结果"),
    "captions": ("Captions", "标注文字"),
    "captions_info": ("write each box's class and score on the picture (the table always lists them)",
                      "在图上写出每个框的类别和分数（表格中始终列出）"),
    "detect_button": ("Detect", "检测"),
    "examples_shapes": ("Shapes (run on detr-shapes)", "形状（使用 detr-shapes 运行）"),
    "examples_photos": ("Photos (run on facebook/detr-resnet-50, downloaded from the Hub)",
                        "照片（使用 facebook/detr-resnet-50 运行，需从 Hub 下载）"),
    "annotated_label": ("Detections (click a point to see the encoder attention there)",
                        "检测结果（点击图中一点，查看该处的编码器注意力）"),
    "table_label": ("Detections (click a row to see its attention)", "检测结果（点击一行，查看其注意力）"),
    "cross_heading": ("#### Decoder cross-attention: where the selected detection's query looked",
                      "#### 解码器交叉注意力：所选检测结果的查询关注了哪里"),
    "detection": ("Detection", "检测结果"),
    "decoder_layer": ("Decoder layer", "解码器层"),
    "head": ("Head", "注意力头"),
    "cross_label": ("Cross-attention", "交叉注意力"),
    "encoder_heading": ("#### Encoder self-attention: where the position under the ✚ looks",
                        "#### 编码器自注意力：✚ 处的位置关注哪里"),
    "encoder_layer": ("Encoder layer", "编码器层"),
    "encoder_label": ("Encoder self-attention (click to move the point)", "编码器自注意力（点击以移动该点）"),
    "class_plot": ("Class distribution per query", "每个查询的类别分布"),
    # the "Explain" section: a map of the selected detection and its faithfulness
    "explain_heading": ("#### Explain the selected detection: which parts of the image its prediction depends on",
                        "#### 解释所选检测结果：它的预测依赖图像的哪些部分"),
    "explain_help": (
        """**Cross-attention** (the decoder layer and head chosen above) is the weight with which the detection's
query read each position of the encoder's output in that one layer. It is one layer of one path: it ignores the
other decoder layers, the query's self-attention with the other queries and the encoder's mixing (after the
encoder every position already carries information from the whole image), so it shows where the query *read*,
not what the prediction depends on. **Relevance** (Chefer et al., ICCV 2021) starts from the detection's class
logit (or one coordinate of its box), weights every attention map by its gradient and follows the relevance
layer by layer through the encoder's self-attention and the decoder's self- and cross-attention: it is specific
to this detection and this target, but still a gradient (first-order) estimate. **Faithfulness**: remove the
map's most relevant cells first (blurred) and watch the detection's score fall (*deletion*: a lower AUC is
better), or put them first into a blurred image (*insertion*: a higher AUC is better); the score is the best
probability of the detection's class among the queries whose box still overlaps its box (IoU ≥ 0.5). A random
order of cells is the baseline: a map whose deletion AUC is not below the random map's does not find what the
detection depends on better than chance.""",
        "**交叉注意力**（上方所选的解码器层和注意力头）是该检测结果的查询在这一层读取编码器输出各位置时所用的权重。"
        "它只是一条路径中的一层：忽略了其他解码器层、该查询与其他查询之间的自注意力，以及编码器的混合"
        "（经过编码器后，每个位置都已携带整幅图像的信息），所以它显示的是查询*读取*了哪里，而不是预测依赖什么。"
        "**相关性**（Chefer 等，ICCV 2021）从该检测结果的类别 logit（或其框的一个坐标）出发，用梯度加权每个注意力图，"
        "并逐层沿编码器自注意力、解码器自注意力和交叉注意力传播相关性：它针对这个检测结果和这个目标，"
        "但仍是基于梯度的（一阶）估计。**忠实度**：先去掉（模糊）图中最相关的格子，观察检测分数下降"
        "（*删除*：AUC 越低越好）；或先把它们放回一幅模糊的图像（*插入*：AUC 越高越好）；"
        "分数是框与该检测框仍重叠（IoU ≥ 0.5）的查询中该类别的最高概率。随机顺序的格子是基线："
        "删除 AUC 不低于随机图的解释图，找出检测依赖之处的能力并不比随机更好。"),
    "explain_help_title": ("What each method computes, and when it misleads", "各方法计算的是什么，何时会误导"),
    "explain_method": ("Explain with", "解释方法"),
    "explain_target": ("Relevance target", "相关性目标"),
    "explain_target_info": ("what the relevance explains: the class logit or one coordinate of the box (the "
                            "cross-attention does not depend on it)",
                            "相关性所解释的量：类别 logit 或框的一个坐标（交叉注意力与它无关）"),
    "measure_button": ("Measure faithfulness", "测量忠实度"),
    "explain_label": ("Explanation map", "解释图"),
    "curve_plot": ("Deletion and insertion curves", "删除与插入曲线"),
    # the table's column headers ("#", "x0", ... are the same in both languages)
    "col_query": ("query", "查询"),
    "col_label": ("label", "类别"),
    "col_score": ("score", "分数"),
    "col_caption": ("caption", "图上标注"),
    # the caption column: whether the detection's "<class> <score>" is written on the picture
    "caption_on_picture": ("on picture", "在图上"),
    "caption_no_room": ("no room", "无处可放"),
    "captions_off": ("captions off", "标注已关闭"),
    # run-time text: the "Explain" section
    "method_cross": ("Cross-attention (decoder layer and head above)", "交叉注意力（上方的解码器层和注意力头）"),
    "method_relevance": ("Relevance through the whole model (Chefer 2021)", "贯穿整个模型的相关性（Chefer 2021）"),
    "target_class": ("class logit", "类别 logit"),
    "target_cx": ("box centre x (cx)", "框中心 x（cx）"),
    "target_cy": ("box centre y (cy)", "框中心 y（cy）"),
    "target_w": ("box width (w)", "框宽度（w）"),
    "target_h": ("box height (h)", "框高度（h）"),
    "explained_cross": ("cross-attention of decoder layer {layer}, {head}", "解码器第 {layer} 层的交叉注意力，{head}"),
    "explained_relevance": ("relevance for the {target}", "针对“{target}”的相关性"),
    "explain_map_line": ("**{what}** of {detection} · map in {seconds:.2f} s",
                         "{detection} 的**{what}** · 解释图用时 {seconds:.2f} 秒"),
    "auc_line": ("deletion AUC **{deletion:.3f}** (random map {random_deletion:.3f}; lower is better) · "
                 "insertion AUC **{insertion:.3f}** (random map {random_insertion:.3f}; higher is better) · "
                 "{runs} model runs in {seconds:.1f} s",
                 "删除 AUC **{deletion:.3f}**（随机图 {random_deletion:.3f}；越低越好）· "
                 "插入 AUC **{insertion:.3f}**（随机图 {random_insertion:.3f}；越高越好）· "
                 "模型运行 {runs} 次，用时 {seconds:.1f} 秒"),
    "beats_random": ("Removing what this map marks first lowers the detection's score faster than a random order: "
                     "here the map points at what the detection depends on.",
                     "先去掉此图标出的区域，检测分数比随机顺序下降得更快：在这里，此图指出了检测所依赖的区域。"),
    "not_faithful": ("⚠ This map's deletion AUC is not below the random map's: removing what it marks first hurts "
                     "the detection no more than removing random cells, so do not trust it for this detection.",
                     "⚠ 此图的删除 AUC 不低于随机图：先去掉它标出的区域，对检测的影响并不比随机去掉格子更大，"
                     "所以对这个检测结果不要相信它。"),
    "measure_pending": ("Measuring faithfulness takes **{runs} model runs** (about {seconds:.0f} s here): press "
                        "**Measure faithfulness**.",
                        "测量忠实度需要**运行模型 {runs} 次**（这里约 {seconds:.0f} 秒）：请点击**测量忠实度**。"),
    # run-time text
    "query_n": ("query {q}", "查询 {q}"),
    "summary_kept_one": (
        "**{n} detection** with score above {threshold:.2f} (of {queries} queries){hint} · "
        "model **{model_ms:.0f} ms**",
        "分数高于 {threshold:.2f} 的检测结果 **{n} 个**（共 {queries} 个查询）{hint} · 模型 **{model_ms:.0f} ms**"),
    "summary_kept": (
        "**{n} detections** with score above {threshold:.2f} (of {queries} queries){hint} · "
        "model **{model_ms:.0f} ms**",
        "分数高于 {threshold:.2f} 的检测结果 **{n} 个**（共 {queries} 个查询）{hint} · 模型 **{model_ms:.0f} ms**"),
    "hint_lower": (" — lower the threshold to see more", "——降低阈值可看到更多"),
    "summary_total": ("total on the server **{total_ms:.0f} ms** (decode, model, drawing)",
                      "服务器端总耗时 **{total_ms:.0f} ms**（解码、模型、绘图）"),
    "summary_model": ("{model} on {device} · image {w}×{h}, model input {iw}×{ih}, feature map {fw}×{fh}",
                      "{model}，运行于 {device} · 图像 {w}×{h}，模型输入 {iw}×{ih}，特征图 {fw}×{fh}"),
    # what pre-processing did to an image of an extreme aspect ratio (a side clamped to 1 pixel)
    # detect_views: a class the model's id2label does not name
    "class_n": ("class {k}", "类别 {k}"),
    # detect_views: the class-distribution figure
    "other_classes": ("other classes", "其他类别"),
    "no_object": ("no object", "无目标"),
    "figure_title": ("Class probabilities of each query (best {shown} of {queries}; "
                     "✓ = score above {threshold:.2f})",
                     "各查询的类别概率（分数最高的 {shown} 个，共 {queries} 个；✓ = 分数高于 {threshold:.2f}）"),
})
