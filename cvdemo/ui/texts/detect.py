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
    # the table's column headers ("#", "x0", ... are the same in both languages)
    "col_query": ("query", "查询"),
    "col_label": ("label", "类别"),
    "col_score": ("score", "分数"),
    "col_caption": ("caption", "图上标注"),
    # the caption column: whether the detection's "<class> <score>" is written on the picture
    "caption_on_picture": ("on picture", "在图上"),
    "caption_no_room": ("no room", "无处可放"),
    "captions_off": ("captions off", "标注已关闭"),
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
