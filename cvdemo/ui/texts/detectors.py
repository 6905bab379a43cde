"""The Detectors tab's text (`cvdemo/ui/detectors_tab.py` and its views, `cvdemo/ui/detectors_views.py`)."""

from cvdemo.ui.i18n import Catalog

T = Catalog("detectors", {
    # layout
    "intro": (
        """One image through every detector of the app, side by side, each at its own stages. **Two-stage**
(Faster R-CNN): a Region Proposal Network proposes regions, then each region is classified and its box refined.
**One-stage**: SSD scores thousands of **default boxes** on several feature-map scales; YOLO cuts the image into an
**S×S grid** whose cells predict boxes and classes. Both give many overlapping boxes per object, and
**non-maximum suppression (NMS)** keeps the best of each cluster. **DETR** predicts a small set of **object
queries** matched one-to-one to the objects in training, so it should need no NMS. Move the **NMS IoU** and the
**score** sliders: the boxes are re-filtered without running the models again; DETR's column does not change
with the NMS IoU, and its table says how many of its boxes an NMS would still remove.""",
        "同一张图像依次通过本应用中的每个检测器，并排显示，每个模型都展示自己的各个阶段。**两阶段**（Faster R-CNN）："
        "区域建议网络（RPN）先提出候选区域，再对每个区域分类并修正其框。**一阶段**：SSD 在多个尺度的特征图上为数千个"
        "**默认框**打分；YOLO 把图像划分为 **S×S 网格**，每个格子预测框和类别。两者都会对同一目标给出许多相互重叠的框，"
        "再由**非极大值抑制（NMS）**在每一簇中只保留最好的框。**DETR** 预测一小组**目标查询**，训练时与目标一对一匹配，"
        "因此本应不需要 NMS。拖动 **NMS IoU** 和**分数**滑块：框会重新筛选，模型不会重新运行；DETR 一栏不随 NMS IoU "
        "变化，表格会说明 NMS 仍会删去它的几个框。"),
    "image_input": ("Image (PNG, JPEG, WebP, GIF, BMP or TIFF)", "图像（PNG、JPEG、WebP、GIF、BMP 或 TIFF）"),
    "models": ("Models", "模型"),
    "models_info": ("the shapes models know only the synthetic shapes; on photos choose COCO models",
                    "形状模型只认识合成形状；照片请选用 COCO 模型"),
    "nms_iou": ("NMS IoU", "NMS IoU"),
    "nms_iou_info": ("of two boxes of a class overlapping more than this, NMS removes the lower-scoring one "
                     "(lower: fewer boxes kept)",
                     "同一类别的两个框重叠超过此值时，NMS 删去分数较低的那个（越低，保留的框越少）"),
    "score": ("Score threshold", "分数阈值"),
    "score_info": ("keep detections scoring above this", "保留分数高于此值的检测结果"),
    "run_button": ("Run every model", "运行所有模型"),
    "examples_shapes": ("Shapes (the shapes models' distribution)", "形状（形状模型的训练分布）"),
    "examples_photos": ("Photos (check the COCO models: DETR-R50 and torchvision's, downloaded on first use)",
                        "照片（请勾选 COCO 模型：DETR-R50 和 torchvision 的模型，首次使用时下载）"),
    "gallery_label": ("Each model: what it looks at → raw detections → after NMS",
                      "每个模型：它考察的候选 → 原始检测结果 → NMS 之后"),
    "table_label": ("Counts per model", "各模型的数量"),
    "no_models": ("Choose at least one model.", "请至少选择一个模型。"),
    "comparison_heading": ("### The families compared on one evaluation set", "### 各系列在同一评估集上的比较"),
    # table columns
    "col_model": ("model", "模型"),
    "col_family": ("family", "系列"),
    "col_candidates": ("candidates", "候选"),
    "col_raw": ("raw (above score)", "原始（高于分数）"),
    "col_removed": ("removed by NMS", "NMS 删去"),
    "col_final": ("final", "最终"),
    "col_ms": ("model ms", "模型毫秒"),
    "col_params": ("parameters (M)", "参数量（百万）"),
    # families
    "family_detr": ("DETR (set prediction)", "DETR（集合预测）"),
    "family_fasterrcnn": ("Faster R-CNN (two-stage)", "Faster R-CNN（两阶段）"),
    "family_ssd": ("SSD (one-stage)", "SSD（一阶段）"),
    "family_retinanet": ("RetinaNet (one-stage)", "RetinaNet（一阶段）"),
    "family_yolo": ("YOLO v1 (one-stage)", "YOLO v1（一阶段）"),
    "family_rcnn": ("R-CNN (selective search + a classifier)", "R-CNN（选择性搜索 + 分类器）"),
    # the stages' captions in the gallery
    "stage_queries": ("{model}: all {total} queries (colour: score, blue low, red high)",
                      "{model}：全部 {total} 个查询（颜色：分数，蓝低红高）"),
    "stage_proposals": ("{model}: best {shown} of {total} RPN proposals ({before} before its NMS)",
                        "{model}：{total} 个 RPN 候选区域中最好的 {shown} 个（其 NMS 前 {before} 个）"),
    "stage_default_boxes": ("{model}: {shown} of {total} default boxes, {maps} maps ({sizes}); colour: map",
                            "{model}：{total} 个默认框中的 {shown} 个，{maps} 个特征图（{sizes}）；颜色：特征图"),
    "stage_anchors": ("{model}: {shown} of {total} anchors, {maps} levels ({sizes}); colour: level",
                      "{model}：{total} 个锚框中的 {shown} 个，{maps} 个层级（{sizes}）；颜色：层级"),
    "stage_grid": ("{model}: {grid}×{grid} grid × {per_cell} boxes; {shown} most confident of {total}",
                   "{model}：{grid}×{grid} 网格 × 每格 {per_cell} 个框；{total} 个中置信度最高的 {shown} 个"),
    "stage_regions": ("{model}: best {shown} of {total} selective-search regions, {passes} classifier passes",
                      "{model}：{total} 个选择性搜索区域中最好的 {shown} 个，分类器运行 {passes} 次"),
    "stage_raw": ("{model}: {count} raw above {score}, before NMS",
                  "{model}：高于 {score} 的原始结果 {count} 个（NMS 前）"),
    "stage_raw_detr": ("{model}: {count} queries above {score} (no NMS)",
                       "{model}：高于 {score} 的查询 {count} 个（无 NMS）"),
    "stage_final": ("{model}: {count} after NMS at IoU {iou} (−{removed})",
                    "{model}：IoU {iou} 的 NMS 后剩 {count} 个（−{removed}）"),
    "stage_final_detr": ("{model}: {count} final; NMS at IoU {iou} would remove {removed}",
                         "{model}：最终 {count} 个；IoU {iou} 的 NMS 会删去 {removed} 个"),
    # the summary
    "summary": ("**{models}** models on a {width}×{height} image: {total_ms:.0f} ms in all (models "
                "{models_ms:.0f} ms).",
                "**{models}** 个模型处理一张 {width}×{height} 的图像：共 {total_ms:.0f} 毫秒"
                "（模型 {models_ms:.0f} 毫秒）。"),
    "summary_detr": ("DETR's {model}: an NMS at IoU {iou} would remove **{removed}** of its {count} boxes above "
                     "{score}: {verdict}",
                     "DETR 的 {model}：IoU {iou} 的 NMS 会删去其高于 {score} 的 {count} 个框中的 **{removed}** 个："
                     "{verdict}"),
    "detr_no_duplicates": ("no duplicates, as one-to-one matching promises.", "没有重复框，正如一对一匹配所承诺的。"),
    "detr_duplicates": ("it does make duplicates here (a model trained too briefly, or too few decoder layers "
                        "for its queries to suppress each other).",
                        "它在这里确实产生了重复框（训练不够久，或解码器层数太少，查询之间无法相互抑制）。"),
    "skipped": ("{model} was skipped: {reason}", "已跳过 {model}：{reason}"),
    "class_n": ("class {k}", "类别 {k}"),
})
