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
    "family_long_detr": ("DETR (set prediction)", "DETR（集合预测）"),
    "family_long_fasterrcnn": ("Faster R-CNN (two-stage)", "Faster R-CNN（两阶段）"),
    "family_long_ssd": ("SSD (one-stage)", "SSD（一阶段）"),
    "family_long_retinanet": ("RetinaNet (one-stage)", "RetinaNet（一阶段）"),
    "family_long_yolo": ("YOLO v1 (one-stage)", "YOLO v1（一阶段）"),
    "family_long_rcnn": ("R-CNN (selective search + a classifier)", "R-CNN（选择性搜索 + 分类器）"),
    # the family names inside sentences (cvdemo.detector_comparison's fields)
    "family_detr": ("DETR", "DETR"),
    "family_fasterrcnn": ("Faster R-CNN", "Faster R-CNN"),
    "family_ssd": ("SSD", "SSD"),
    "family_retinanet": ("RetinaNet", "RetinaNet"),
    "family_yolo": ("YOLO", "YOLO"),
    "family_rcnn": ("R-CNN", "R-CNN"),
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
    # the comparison on one evaluation set (cvdemo.detector_comparison)
    "comparison_intro": (
        "Every shipped detector on the same {images} fresh images (seed {seed}, {objects} objects) of the shared "
        "shapes distribution, none of them seen in training; speed at batch 1 with {threads} CPU thread(s), "
        "measured side by side ({cpu}). Made by `{command}`.",
        "所有随附检测器在同一组 {images} 张全新图像（种子 {seed}，{objects} 个目标）上评估，"
        "这些图像来自共享的形状分布，"
        "训练中从未见过；速度为批大小 1、{threads} 个 CPU 线程并排测得（{cpu}）。由 `{command}` 生成。"),
    "coco_heading": ("**The 12 COCO numbers** (AP_L and AR_L are −1: the shapes hold no large objects)",
                     "**COCO 的 12 个指标**（AP_L 和 AR_L 为 −1：形状数据中没有大目标）"),
    "errors_heading": ("**Errors, speed and training**", "**错误、速度与训练**"),
    "col_tide": ("TIDE errors (loc / cls / dupe / bkg / both / missed)",
                 "TIDE 错误（定位 / 分类 / 重复 / 背景 / 两者 / 漏检）"),
    "col_dupes": ("duplicates per object (no NMS → after NMS)", "每目标重复框（无 NMS → NMS 后）"),
    "col_images_per_s": ("images/s", "每秒图像数"),
    "col_minutes_to_ap50": ("minutes to val AP 0.5", "达到验证 AP 0.5 的分钟数"),
    "not_reached": ("not reached", "未达到"),
    "unknown": ("unknown", "未知"),
    "claims_heading": ("**What the notes claim, and what these numbers say**", "**笔记的说法，以及这些数据的结论**"),
    "colon": (": ", "："),
    "fairness": (
        "Read with care: these are small models trained briefly on a CPU, on synthetic shapes; the CNN families "
        "started from the backbone of the first detr-shapes (detr-shapes-2dec; as detectors start from "
        "ImageNet), while detr-shapes itself was trained from scratch, so its minutes to AP 0.5 are not "
        "comparable one to one. With the same start "
        "(the Train tab's tiny presets, seed 0), 300 steps gave Faster R-CNN AP 0.29 and SSD 0.34, while DETR had "
        "0.07 after 600: DETR is the slow one. The families' minutes were measured while three or four trainings "
        "shared the 2-core CPU; their cards give the steps too (Faster R-CNN, SSD and YOLO reached AP 0.5 by step "
        "1,000 of batch 8-16, detr-shapes after about 20,000 of batch 8).",
        "请谨慎解读：这些都是在 CPU 上用合成形状短时间训练的小模型；各 CNN 系列从第一版 detr-shapes"
        "（detr-shapes-2dec）的骨干网络开始"
        "（正如检测器通常从 ImageNet 开始），而 detr-shapes 本身是从零训练的，因此它达到 AP 0.5 的分钟数不能一一对比。"
        "在相同起点下（训练标签页的 tiny 预设，种子 0），Faster R-CNN 和 SSD 训练 300 步分别达到 AP 0.29 和 0.34，"
        "而 DETR 训练 600 步后只有 0.07：DETR 才是收敛慢的那个。"
        "各 CNN 系列的分钟数是在 3 到 4 个训练任务共用这台双核 CPU 时测得的；"
        "它们的模型卡也给出了步数（Faster R-CNN、SSD 和 YOLO 在批大小 8–16 的第 1,000 步前达到 AP 0.5，"
        "detr-shapes 则在批大小 8 的约 20,000 步后）。"),
    # verdicts and reasons
    "verdict_agrees": ("The numbers agree", "数据支持这一说法"),
    "verdict_disagrees": ("The numbers disagree", "数据与这一说法相反"),
    "verdict_cannot_tell": ("These numbers cannot tell", "这些数据无法判断"),
    "why_missing": ("No {family} checkpoint is in the comparison.", "对比中没有 {family} 的模型。"),
    "why_within_margin": ("The difference is within the margin ({margin}) that noise alone can make.",
                          "差异在误差范围（{margin}）之内，可能只是噪声。"),
    "why_no_objects_of_size": ("The evaluation set holds no objects of the size this claim is about (COCO gives "
                               "{size} = -1).", "评估集中没有这一尺寸的目标（COCO 的 {size} 为 -1）。"),
    "why_mixed": ("The detectors compared point both ways.", "参与对比的检测器结果不一致，有的支持，有的相反。"),
    "why_no_training_time": ("The model cards give no time to reach AP 0.5 for DETR or for the CNN detectors.",
                             "模型卡中没有 DETR 或 CNN 检测器达到 AP 0.5 所用的训练时间。"),
    "error_no_comparison": ("{path} does not exist: write it with python -m training.compare_detectors.",
                            "{path} 不存在：请先运行 python -m training.compare_detectors 生成它。"),
    "error_bad_comparison": ("{path} is not a valid detector comparison: {problem}. Write it again with python -m "
                             "training.compare_detectors.",
                             "{path} 不是有效的检测器对比文件：{problem}。请用 python -m training.compare_detectors "
                             "重新生成。"),
    # the claims (the notes' words) and their evidence
    "claim_rcnn_slower": ("R-CNN is slow: it classifies every region proposal separately (Faster R-CNN's reason to "
                          "exist).", "R-CNN 速度较慢：它对每个候选区域分别做分类（这正是 Faster R-CNN 出现的原因）。"),
    "evidence_rcnn_slower": ("R-CNN {rcnn:.1f} images/s, Faster R-CNN {fasterrcnn:.1f} images/s (batch 1, one CPU "
                             "thread).", "R-CNN 每秒 {rcnn:.1f} 张图，Faster R-CNN 每秒 {fasterrcnn:.1f} 张（批大小 1，"
                             "单个 CPU 线程）。"),
    "claim_two_stage_more_accurate": ("Two-stage detectors (Faster R-CNN) are more accurate than one-stage ones.",
                                      "两阶段检测器（Faster R-CNN）比单阶段检测器更准确。"),
    "evidence_two_stage_more_accurate": (
        "AP: Faster R-CNN {fasterrcnn:.3f}, the best one-stage detector ({one_stage}) {one_stage_AP:.3f}.",
        "AP：Faster R-CNN {fasterrcnn:.3f}，最好的单阶段检测器（{one_stage}）{one_stage_AP:.3f}。"),
    "claim_one_stage_faster": ("One-stage detectors (YOLO, SSD) are faster than two-stage ones.",
                               "单阶段检测器（YOLO、SSD）比两阶段检测器更快。"),
    "evidence_one_stage_faster": (
        "Images/s: Faster R-CNN {fasterrcnn:.1f}; one-stage from {slowest} {slowest_ips:.1f} to {fastest} "
        "{fastest_ips:.1f}.",
        "每秒图像数：Faster R-CNN {fasterrcnn:.1f}；单阶段检测器从 {slowest} 的 {slowest_ips:.1f} 到 {fastest} 的 "
        "{fastest_ips:.1f}。"),
    "claim_yolo_faster_than_ssd": ("YOLO is faster than SSD.", "YOLO 比 SSD 快。"),
    "evidence_yolo_faster_than_ssd": ("Images/s: YOLO {yolo:.1f}, SSD {ssd:.1f}.",
                                      "每秒图像数：YOLO {yolo:.1f}，SSD {ssd:.1f}。"),
    "claim_yolo_accuracy_average": ("YOLO's accuracy is only average.", "YOLO 的准确率比较一般。"),
    "evidence_yolo_accuracy_average": ("AP: YOLO {yolo:.3f}, the best other detector ({best}) {best_AP:.3f}.",
                                       "AP：YOLO {yolo:.3f}，其他检测器中最好的（{best}）{best_AP:.3f}。"),
    "claim_ssd_small_objects": ("SSD detects small objects more accurately than YOLO.",
                                "SSD 对小目标的检测比 YOLO 更准确。"),
    "evidence_ssd_small_objects": ("AP on small objects (AP_S, under 32×32 px): SSD {ssd:.3f}, YOLO {yolo:.3f}.",
                                   "小目标 AP（AP_S，面积小于 32×32 像素）：SSD {ssd:.3f}，YOLO {yolo:.3f}。"),
    "claim_cnn_need_nms": ("The CNN detectors make several boxes per object and need NMS to remove the duplicates.",
                           "CNN 检测器会对同一目标输出多个框，需要 NMS 去除重复框。"),
    "evidence_cnn_need_nms": (
        "Duplicates per object at score ≥ 0.5: {family} (where NMS removes the fewest) {before:.2f} before NMS, "
        "{after:.2f} after.",
        "得分 ≥ 0.5 时每个目标的重复框数：{family}（NMS 去除最少的一个）NMS 前 {before:.2f}，NMS 后 {after:.2f}。"),
    "claim_detr_no_nms": ("DETR needs no NMS: one-to-one matching gives each object one prediction, without "
                          "overlapping duplicates.",
                          "DETR 不需要 NMS：一对一匹配让每个目标只有一个预测，不会出现重叠的重复框。"),
    "evidence_detr_no_nms": (
        "DETR's duplicates per object at score ≥ 0.5, without NMS: {detr:.1%} (the limit: {limit:.0%}); an NMS "
        "would leave {detr_after_nms:.1%}.",
        "得分 ≥ 0.5 时 DETR 不做 NMS 的每目标重复框比例：{detr:.1%}（上限 {limit:.0%}）；"
        "做 NMS 后为 {detr_after_nms:.1%}。"),
    "claim_detr_accuracy_good": ("DETR performs well compared with the classic (CNN) detectors.",
                                 "与传统（CNN）目标检测网络相比，DETR 的效果很不错。"),
    "evidence_detr_accuracy_good": (
        "AP: DETR {detr:.3f}; CNN detectors from {worst} {worst_AP:.3f} to {best} {best_AP:.3f}.",
        "AP：DETR {detr:.3f}；CNN 检测器从 {worst} 的 {worst_AP:.3f} 到 {best} 的 {best_AP:.3f}。"),
    "claim_detr_small_weaker": ("DETR is somewhat weaker on small objects than the CNN detectors.",
                                "DETR 在小目标上比 CNN 检测器稍差。"),
    "evidence_detr_small_weaker": ("{key}: DETR {detr:.3f}, the best CNN detector ({best}) {best_value:.3f}.",
                                   "{key}：DETR {detr:.3f}，最好的 CNN 检测器（{best}）{best_value:.3f}。"),
    "claim_detr_small_gap": ("DETR is weaker on small objects than on larger ones, more so than the CNN detectors.",
                             "DETR 在小目标上的表现比它在较大目标上差，差距大于 CNN 检测器。"),
    "evidence_detr_small_gap": (
        "DETR: AP_S {detr_APs:.3f}, AP_M {detr_APm:.3f} (gap {detr_gap:+.3f}); mean gap AP_M − AP_S of the "
        "{cnn_count} CNN detectors: {cnn_gap:+.3f}.",
        "DETR：AP_S {detr_APs:.3f}，AP_M {detr_APm:.3f}（差 {detr_gap:+.3f}）；{cnn_count} 个 CNN 检测器 "
        "AP_M − AP_S 的平均差：{cnn_gap:+.3f}。"),
    "claim_detr_large_strong": ("DETR performs best on large objects.", "DETR 在大目标检测上性能最好。"),
    "evidence_detr_large_strong": ("{key}: DETR {detr:.3f}, the best CNN detector ({best}) {best_value:.3f}.",
                                   "{key}：DETR {detr:.3f}，最好的 CNN 检测器（{best}）{best_value:.3f}。"),
    "claim_detr_slow_to_converge": ("DETR is slow to converge: its matching-based loss makes training hard.",
                                    "DETR 收敛慢：基于匹配的损失让训练很难收敛。"),
    "evidence_detr_slow_to_converge": (
        "Training minutes to validation AP 0.5: DETR {detr:.0f}; CNN detectors from {fastest} {fastest_minutes:.0f} "
        "to {slowest} {slowest_minutes:.0f}.",
        "达到验证集 AP 0.5 所用的训练时间（分钟）：DETR {detr:.0f}；CNN 检测器从 {fastest} 的 {fastest_minutes:.0f} "
        "到 {slowest} 的 {slowest_minutes:.0f}。"),
    "evidence_detr_slow_to_converge_not_reached": (
        "DETR did not reach validation AP 0.5 in its {detr:.0f} minutes of training; CNN detectors reached it in "
        "{fastest_minutes:.0f} ({fastest}) to {slowest_minutes:.0f} ({slowest}) minutes.",
        "DETR 训练了 {detr:.0f} 分钟仍未达到验证集 AP 0.5；CNN 检测器用了 {fastest_minutes:.0f}（{fastest}）到 "
        "{slowest_minutes:.0f}（{slowest}）分钟。"),
})
