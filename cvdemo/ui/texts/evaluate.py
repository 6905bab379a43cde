"""The Evaluate tab's text (`cvdemo/ui/evaluate_tab.py`, `evaluate_browse` and the view module
`evaluation_viewer`), and the words of the core's messages to it (keys ``evaluate.<name>`` raised or returned by
`cvdemo.metrics.browse` and `cvdemo.datasets.folder`; ``evaluate.compare_in_set`` by `cvdemo.metrics.comparison`).
Export files (CSV columns, JSON keys) are not text: they stay English."""

from cvdemo.ui.i18n import Catalog

T = Catalog("evaluate", {
    # --- evaluate_tab: layout ----------------------------------------------------------------------------
    "intro": (
        """Upload a **data set** (COCO instances json, Pascal VOC xml or YOLO txt with `classes.txt`, with or without
its images: loose files or one zip) and its **predictions** (COCO results json, or YOLO txt with a confidence
column), then **Evaluate**. The COCO metrics are pycocotools' numbers. Below, move the **IoU** and **score
thresholds** to recolour every box as a true positive, false positive or missed object, browse the images
with the most errors, and **click a box** to see its score, IoU and match.""",
        # no line breaks inside Chinese prose: Markdown would render each one as a space
        "上传一个**数据集**（COCO instances json、Pascal VOC xml，或带 `classes.txt` 的 YOLO txt；可附带或不附带"
        "图像：多个文件或一个 zip）及其**预测**（COCO 结果 json，或带置信度列的 YOLO txt），然后点击**评估**。"
        "COCO 指标即 pycocotools 算出的数值。在下方拖动 **IoU 阈值**和**分数阈值**，每个框会重新着色为真阳性、"
        "假阳性或漏检目标；可浏览错误最多的图像，并**点击一个框**查看它的分数、IoU 与匹配情况。"),
    "dataset_label": ("Data set: annotations (+ images), files or one .zip",
                      "数据集：标注（+ 图像），多个文件或一个 .zip"),
    "predictions_label": ("Predictions: COCO results .json or YOLO .txt (or .zip)",
                          "预测：COCO 结果 .json 或 YOLO .txt（或 .zip）"),
    "evaluate_button": ("Evaluate", "评估"),
    "upload_count": ("Uploaded: data set **{dataset:,}** files · predictions **{predictions:,}** files",
                     "已上传：数据集 **{dataset:,}** 个文件 · 预测 **{predictions:,}** 个文件"),
    "example_label": ("Examples: 12 shapes images with the shipped detr-shapes' predictions; COCO val2014, "
                      "100 images, annotations only, with the COCO API's fake results",
                      "示例：12 张形状图像及随附 detr-shapes 模型的预测；COCO val2014，100 张图像，仅含标注，"
                      "配 COCO API 自带的虚构检测结果"),
    "coco_table_label": ("COCO (pycocotools' 12 numbers)", "COCO（pycocotools 的 12 个指标）"),
    "metrics_file_label": ("Metrics (JSON, as `python -m cvdemo.evaluate --json --per-class --voc`)",
                           "指标（JSON，与 `python -m cvdemo.evaluate --json --per-class --voc` 的输出相同）"),
    "per_class_heading": ("### Per class", "### 各类别"),
    "class_table_label": ("AP per class (click a header to sort)", "各类别 AP（点击表头排序）"),
    "class_label": ("Class (PR curves and image browser)", "类别（用于 PR 曲线和图像浏览）"),
    "pr_label": ("Precision–recall (hover: the score threshold)", "精确率–召回率（悬停可见分数阈值）"),
    "images_heading": ("### Images: true positives, false positives and misses at your thresholds",
                       "### 图像：所选阈值下的真阳性、假阳性与漏检"),
    "iou_label": ("IoU threshold", "IoU 阈值"),
    "iou_info": ("a detection is a TP if it overlaps a still unmatched object of its class this much",
                 "检测与同类别中尚未匹配的某个目标的 IoU 达到此值即为 TP"),
    "score_label": ("Score threshold", "分数阈值"),
    "score_info": ("detections below it are dropped", "分数低于此值的检测将被舍弃"),
    "error_label": ("Show images", "显示图像"),
    "sort_label": ("Sort by", "排序方式"),
    "previous_page": ("◀ previous page", "◀ 上一页"),
    "page_label": ("Page", "页码"),
    "next_page": ("next page ▶", "下一页 ▶"),
    "images_table_label": ("Images (click a row to view it)", "图像（点击一行即可查看）"),
    "image_label": ("Click a box for its score, IoU and match", "点击一个框，查看其分数、IoU 与匹配"),
    "objects_label": ("Detections and objects of this image", "本图像的检测与目标"),
    "errors_heading": ("### Error analysis", "### 错误分析"),
    "confusion_label": ("Confusion matrix", "混淆矩阵"),
    "export_heading": ("### Export", "### 导出"),
    "export_button": ("Export the per-object table (CSV) and the metrics (JSON) at these thresholds",
                      "导出当前阈值下的逐目标表（CSV）和指标（JSON）"),
    "downloads_label": ("Downloads", "下载"),
    # --- evaluate_tab: table headers (the UI's only; the CSV/JSON exports keep their English names) ------
    "col_metric": ("metric", "指标"),
    "col_value": ("value", "数值"),
    "col_class": ("class", "类别"),
    "col_num_gt": ("#GT", "真值数"),
    "col_image_id": ("image id", "图像 id"),
    "col_file": ("file", "文件"),
    "col_kind": ("kind", "类型"),
    "col_row": ("row", "行号"),
    "col_status": ("status", "状态"),
    "col_score": ("score", "分数"),
    "col_matched": ("matched", "匹配对象"),
    # --- evaluate_tab: pycocotools' 12 numbers ---------------------------------------------------------
    "coco_ap": ("AP  IoU .50:.95", "AP  IoU .50:.95"),
    "coco_ap50": ("AP  IoU .50", "AP  IoU .50"),
    "coco_ap75": ("AP  IoU .75", "AP  IoU .75"),
    "coco_ap_small": ("AP  small", "AP  小目标"),
    "coco_ap_medium": ("AP  medium", "AP  中目标"),
    "coco_ap_large": ("AP  large", "AP  大目标"),
    "coco_ar1": ("AR  1 det/image", "AR  每张图 1 个检测"),
    "coco_ar10": ("AR  10 det/image", "AR  每张图 10 个检测"),
    "coco_ar100": ("AR  100 det/image", "AR  每张图 100 个检测"),
    "coco_ar_small": ("AR  small", "AR  小目标"),
    "coco_ar_medium": ("AR  medium", "AR  中目标"),
    "coco_ar_large": ("AR  large", "AR  大目标"),
    # --- evaluate_tab: run time ------------------------------------------------------------------------
    "voc_table": (
        "| Pascal VOC mAP, IoU > 0.5 | value |\n|---|---|\n| VOC2007, 11-point | **{map07}** |\n"
        "| VOC2010+, all points | **{map12}** |\n| *COCO AP50, for comparison* | *{ap50}* |",
        "| Pascal VOC mAP，IoU > 0.5 | 数值 |\n|---|---|\n| VOC2007，11 点插值 | **{map07}** |\n"
        "| VOC2010+，全部点 | **{map12}** |\n| *COCO AP50，供对比* | *{ap50}* |"),
    "why_differ": (
        """**Why COCO AP50 ({ap50}) and VOC AP ({voc12}) can differ at the same IoU 0.5.** COCO keeps the best 100
detections per image and class, ignores crowd regions (a detection on one is neither TP nor FP), matches a
detection to the best *still unmatched* object with IoU ≥ 0.5 and samples precision at 101 recall points.
VOC keeps every detection, takes its best object even if already found (a second hit is a duplicate FP),
needs IoU > 0.5, ignores `difficult` objects (and crowd here) and integrates the whole curve (VOC2010+) or
averages 11 points (VOC2007). COCO's headline
AP ({ap}) also averages IoU 0.50…0.95, so it rewards tight boxes.""",
        "**为什么同在 IoU 0.5 下，COCO AP50（{ap50}）与 VOC AP（{voc12}）可能不同。** COCO 对每张图像、每个类别"
        "只保留分数最高的 100 个检测，忽略 crowd 区域（落在其上的检测既不算 TP 也不算 FP），把检测匹配到 IoU ≥ 0.5 "
        "且*尚未被匹配*的最佳目标，并在 101 个召回率点上采样精确率。VOC 保留全部检测，即使最佳目标已被找到也仍取它"
        "（第二次命中记为重复的 FP），要求 IoU > 0.5，忽略 `difficult` 目标（此处也忽略 crowd），并对整条曲线积分"
        "（VOC2010+）或取 11 个点的平均（VOC2007）。COCO 的主指标 AP（{ap}）还对 IoU 0.50…0.95 取平均，因此更青睐"
        "贴合紧密的框。"),
    "status": ("**{format}**: {images:,} images, {objects:,} objects, {classes} classes · "
               "**{predictions:,} predictions** · evaluated in {seconds:.1f} s",
               "**{format}**：{images:,} 张图像，{objects:,} 个目标，{classes} 个类别 · "
               "**{predictions:,} 个预测** · 评估用时 {seconds:.1f} 秒"),
    "all_classes": ("all classes", "全部类别"),
    "where_class": ("class **{name}**", "类别 **{name}**"),
    "counts": ("At IoU ≥ {iou:.2f} and score ≥ {score:.2f} ({where}): "
               "**TP {tp:,} · FP {fp:,} · FN {fn:,}** · precision {precision:.3f} · recall {recall:.3f}"
               " · ignored: {ignored_dets:,} detections, {ignored_gts:,} crowd/ignored objects",
               "IoU ≥ {iou:.2f}、分数 ≥ {score:.2f} 时（{where}）："
               "**TP {tp:,} · FP {fp:,} · FN {fn:,}** · 精确率 {precision:.3f} · 召回率 {recall:.3f}"
               " · 忽略：{ignored_dets:,} 个检测，{ignored_gts:,} 个 crowd/被忽略的目标"),
    "tide_heading": ("At IoU ≥ {iou:.2f}, score ≥ {score:.2f}:", "IoU ≥ {iou:.2f}、分数 ≥ {score:.2f} 时："),
    "tide_table_header": ("| false positives by cause (TIDE) | count |", "| 假阳性的成因（TIDE） | 数量 |"),
    "tide_loc": ("badly localised", "定位不准"),
    "tide_cls": ("wrong class", "类别错误"),
    "tide_dupe": ("duplicate", "重复检测"),
    "tide_bkg": ("background", "背景误检"),
    "tide_both": ("wrong class and location", "类别与位置均错误"),
    "tide_missed": ("**missed objects**", "**漏检目标**"),
    "page_info": ("Images {first}–{last} of {total:,} ({error}, sorted by {sort}) · page {page} of {pages}",
                  "第 {first}–{last} 张，共 {total:,} 张（{error}；排序：{sort}）· 第 {page} 页，共 {pages} 页"),
    "no_image_matches": ("No image matches “{error}” at these thresholds.", "在这些阈值下没有符合“{error}”的图像。"),
    "image_line": ("Image **{image_id}** {file} · {note}click a box to see its score, IoU and match",
                   "图像 **{image_id}** {file} · {note}点击一个框，查看其分数、IoU 与匹配"),
    "progress": ("Loading and evaluating…", "正在加载并评估…"),
    "cannot_evaluate_title": ("Cannot evaluate this upload", "无法评估此上传内容"),
    "nothing_to_export_title": ("Nothing to export", "没有可导出的内容"),
    "nothing_to_export": ("Evaluate a data set first.", "请先评估一个数据集。"),
    # --- evaluation_viewer: filters, sorts, the objects table; cvdemo.metrics.browse: upload checks ------
    "filter_all": ("all images", "全部图像"),
    "filter_fp": ("with false positives", "含假阳性"),
    "filter_fn": ("with misses (FN)", "含漏检（FN）"),
    "filter_fp_fn": ("with FP or FN", "含 FP 或 FN"),
    "filter_loc": ("FP: localisation", "FP：定位不准"),
    "filter_cls": ("FP: wrong class", "FP：类别错误"),
    "filter_dupe": ("FP: duplicate", "FP：重复检测"),
    "filter_bkg": ("FP: background", "FP：背景误检"),
    "filter_both": ("FP: class and location", "FP：类别与位置均错误"),
    "sort_image_id": ("image id", "图像 id"),
    "sort_most_fp": ("most false positives", "假阳性最多"),
    "sort_most_fn": ("most misses", "漏检最多"),
    "sort_lowest_f1": ("lowest F1", "F1 最低"),
    "status_ignored": ("ignored", "忽略"),
    "status_below_score": ("below score", "低于分数阈值"),
    "status_missed": ("FN (missed)", "FN（漏检）"),
    "status_found": ("found", "已检出"),
    "status_ignored_crowd": ("ignored (crowd)", "忽略（crowd）"),
    "detection": ("detection", "检测"),
    "detection_n": ("detection {row}", "检测 {row}"),
    "object_n": ("object {id}", "目标 {id}"),
    "need_dataset": ("upload the data set (annotations and images, or one zip) first",
                     "请先上传数据集（标注和图像，或一个 zip）"),
    "predictions_or_model": ("give either uploaded predictions or a model to run, not both: clear the predictions "
                             "or choose “uploaded predictions” as the model",
                             "上传的预测与要运行的模型只能二选一：请清除预测文件，或将模型选为“上传的预测”"),
    "unknown_model": ("unknown model {name!r}: choose one of {names}", "未知模型 {name!r}：请从 {names} 中选择"),
    "model_label": ("Predictions from", "预测来源"),
    "model_info": ("the uploaded predictions, or a detection model run now on the data set's images "
                   "(the images must be uploaded; every query counts, as in DETR's evaluation)",
                   "上传的预测，或现在在数据集图像上运行一个检测模型"
                   "（须上传图像；与 DETR 的官方评估一样计入每个查询）"),
    "no_model": ("uploaded predictions", "上传的预测"),
    "model_progress": ("{model}: image {done} of {total}", "{model}：第 {done} / {total} 张图像"),
    "too_many_images": ("the data set has {images:,} images; running a model here is limited to {limit:,} "
                        "(CVDEMO_MAX_EVAL_MODEL_IMAGES): run `python -m cvdemo.predict` and upload its results",
                        "数据集有 {images:,} 张图像，此处运行模型最多 {limit:,} 张（CVDEMO_MAX_EVAL_MODEL_IMAGES）："
                        "请运行 `python -m cvdemo.predict` 并上传其结果"),
    "cannot_run_model_title": ("Cannot run the model on this data set", "无法在此数据集上运行该模型"),
    "note_no_images_uploaded": ("no images uploaded: boxes are drawn on a blank canvas of each image's size",
                                "未上传图像：框绘制在与每张图像同尺寸的空白画布上"),
    "not_applicable": ("n/a", "不适用"),
    "example_status": ("**Built-in example** (nothing uploaded yet): {images} synthetic shapes images with the "
                       "predictions of the shipped **detr-shapes** model, evaluated for you. To evaluate your own, "
                       "upload a data set and its predictions above (or choose a model), then click **Evaluate**.",
                       "**内置示例**（尚未上传任何文件）：{images} 张合成形状图像，配随附 **detr-shapes** 模型的预测，"
                       "已为你评估好。要评估你自己的数据，请在上方上传数据集及其预测（或选择一个模型），"
                       "然后点击**评估**。"),
    "status_model": ("**{format}**: {images:,} images, {objects:,} objects, {classes} classes · "
                     "**{predictions:,} predictions** of {model} ({model_seconds:.1f} s on {device}) · "
                     "evaluated in {seconds:.1f} s",
                     "**{format}**：{images:,} 张图像，{objects:,} 个目标，{classes} 个类别 · "
                     "**{model} 的 {predictions:,} 个预测**（在 {device} 上用时 {model_seconds:.1f} 秒）· "
                     "评估用时 {seconds:.1f} 秒"),
    "need_predictions": ("upload the predictions (a COCO results .json or YOLO .txt files) too",
                         "还需上传预测（一个 COCO 结果 .json 或若干 YOLO .txt 文件）"),
    # --- evaluation_viewer ---------------------------------------------------------------------------------
    "note_unreadable": ("the image file cannot be read ({error}); drawn on a blank canvas",
                        "无法读取图像文件（{error}）；改为在空白画布上绘制"),
    "note_blank": ("no image uploaded: blank canvas of the annotated size", "未上传图像：按标注尺寸绘制的空白画布"),
    "note_captions_hidden": ("{n} boxes: captions hidden, click a box to see it",
                             "共 {n} 个框：已隐藏文字标注，点击框即可查看"),
    "note_join": ("; ", "；"),
    "det_head": ("**Detection {row}** · **{status}** · {name} · score **{score:.3f}**",
                 "**检测 {row}** · **{status}** · {name} · 分数 **{score:.3f}**"),
    "det_matched": (" · IoU **{iou:.3f}** with object {obj} ({found})",
                    " · 与目标 {obj}（{found}）的 IoU 为 **{iou:.3f}**"),
    "det_taken": (", already matched by detection {other} (score {score:.3f})",
                  "，该目标已被检测 {other}（分数 {score:.3f}）匹配"),
    "det_no_match": (" · no match at IoU ≥ {t:.2f}: best IoU with a {name} object is **{iou:.3f}** "
                     "(object {obj}{taken})",
                     " · 在 IoU ≥ {t:.2f} 下未匹配：与 {name} 目标的最大 IoU 为 **{iou:.3f}**（目标 {obj}{taken}）"),
    "det_no_object": (" · no {name} object in this image", " · 本图像中没有 {name} 目标"),
    "tide_type": ("  \nTIDE error type: **{error}**, {why}", "  \nTIDE 错误类型：**{error}**，{why}"),
    "why_loc": ("badly localised (right class, IoU between 0.1 and the threshold)",
                "定位不准（类别正确，IoU 介于 0.1 与阈值之间）"),
    "why_cls": ("wrong class (an object of another class overlaps it enough)",
                "类别错误（另一类别的目标与它重叠足够多）"),
    "why_dupe": ("a duplicate (its object was already found by a higher-scoring detection)",
                 "重复检测（它的目标已被分数更高的检测找到）"),
    "why_bkg": ("on background (no object overlaps it above IoU 0.1)", "落在背景上（没有目标与它的 IoU 超过 0.1）"),
    "why_both": ("wrong class and badly localised", "类别错误且定位不准"),
    "obj_head": ("**Object {obj}** · **{status}** · {name}", "**目标 {obj}** · **{status}** · {name}"),
    "obj_matched": (" · matched by detection {det}, score **{score:.3f}**, IoU **{iou:.3f}**",
                    " · 由检测 {det} 匹配，分数 **{score:.3f}**，IoU **{iou:.3f}**"),
    "obj_best": (" · best {name} detection above the score threshold: IoU **{iou:.3f}** "
                 "(detection {det}, score {score:.3f}, {status})",
                 " · 高于分数阈值的最佳 {name} 检测：IoU **{iou:.3f}**（检测 {det}，分数 {score:.3f}，{status}）"),
    "obj_none": (" · no {name} detection above the score threshold in this image",
                 " · 本图像中没有高于分数阈值的 {name} 检测"),
    "box_line": ("  \nbox x={x:.1f} y={y:.1f} w={w:.1f} h={h:.1f} (pixels, top-left corner)",
                 "  \n框 x={x:.1f} y={y:.1f} w={w:.1f} h={h:.1f}（单位为像素，x、y 为左上角）"),
    "legend_tp": ("true positive", "真阳性"),
    "legend_fp": ("false positive", "假阳性"),
    "legend_fn": ("missed object (FN)", "漏检目标（FN）"),
    "legend_found": ("object found", "已检出的目标"),
    "legend_ignored": ("ignored (crowd)", "忽略（crowd）"),
    # --- evaluation_viewer: figures ------------------------------------------------------------------------
    "pr_title_class": ("“{name}” at three IoU thresholds (101 recall points)",
                       "“{name}”在三个 IoU 阈值下的曲线（101 个召回率点）"),
    "pr_title_all": ("IoU 0.50, the {n} classes with the most objects (pick one for more)",
                     "IoU 0.50，目标最多的 {n} 个类别（选择一个类别可查看更多）"),
    # plotly hover templates: %{...} is Plotly's, not a format field (these are used without fields)
    "pr_hover": ("recall %{x:.2f}<br>precision %{y:.3f}<br>score threshold %{customdata:.3f}<extra></extra>",
                 "召回率 %{x:.2f}<br>精确率 %{y:.3f}<br>分数阈值 %{customdata:.3f}<extra></extra>"),
    "recall": ("recall", "召回率"),
    "precision": ("precision", "精确率"),
    "pr_empty": ("no objects of this class", "该类别没有目标"),
    "cm_busiest": ("{shown} of {total} classes (the busiest), ", "{total} 个类别中最繁忙的 {shown} 个，"),
    "cm_title": ("Confusion matrix ({busiest}IoU ≥ {iou:.2f}, score ≥ {score:.2f})"
                 "<br><sup>rows: true class · columns: predicted · background = missed / false alarm</sup>",
                 "混淆矩阵（{busiest}IoU ≥ {iou:.2f}，分数 ≥ {score:.2f}）"
                 "<br><sup>行：真实类别 · 列：预测类别 · 背景 = 漏检 / 误报</sup>"),
    "cm_hover": ("true %{y}<br>predicted %{x}<br>count %{customdata}<extra></extra>",
                 "真实 %{y}<br>预测 %{x}<br>数量 %{customdata}<extra></extra>"),
    "predicted": ("predicted", "预测类别"),
    "true": ("true", "真实类别"),
    "background": ("background", "背景"),
    # --- evaluation_viewer: how the counts reconcile (cvdemo.metrics.reconcile) -------------------------------
    "rc_heading": ("#### How the counts reconcile (IoU ≥ {iou:.2f}, score ≥ {score:.2f})",
                   "#### 各项计数如何对上（IoU ≥ {iou:.2f}，分数 ≥ {score:.2f}）"),
    "rc_intro": ("The counts line, the confusion matrix and TIDE count misses and false alarms by three different "
                 "rules; each line below holds exactly, with each figure named by its definition.",
                 "计数行、混淆矩阵和 TIDE 按三种不同规则统计漏检与误报；"
                 "下面每一行都严格成立，每个数字都注明了它的定义。"),
    "rc_identities": ("**Identities**", "**恒等式**"),
    "rc_definitions": ("**Definitions**", "**定义**"),
    "rc_table_header": ("| figure | count | definition |\n|---|---|---|", "| 数字 | 数量 | 定义 |\n|---|---|---|"),
    "rc_objects": ("objects", "目标"),
    "rc_def_objects": ("objects that count (not crowd or ignored)", "计入统计的目标（不含 crowd 或被忽略的目标）"),
    "rc_tp": ("TP", "TP"),
    "rc_def_tp": ("counts line: detections matched to a still unmatched object of their class, IoU ≥ threshold "
                  "(COCO: top 100 per image and class)",
                  "计数行：与同类别中尚未匹配的目标 IoU ≥ 阈值而匹配上的检测（COCO：每张图像每个类别取前 100 个）"),
    "rc_fn": ("FN", "FN"),
    "rc_def_fn": ("counts line: objects no detection of their class matched", "计数行：没有任何同类别检测匹配上的目标"),
    "rc_dets": ("kept detections", "保留的检测"),
    "rc_def_dets": ("detections with score ≥ threshold", "分数 ≥ 阈值的检测"),
    "rc_fp": ("FP", "FP"),
    "rc_def_fp": ("counts line: kept detections that are neither TP nor on a crowd region",
                  "计数行：既不是 TP、也不落在 crowd 区域上的保留检测"),
    "rc_fp_loc": ("TIDE loc", "TIDE 定位"),
    "rc_def_fp_loc": ("FP with an object of its class at 0.1 ≤ IoU ≤ threshold",
                      "与同类别目标的 IoU 在 0.1 与阈值之间的 FP"),
    "rc_fp_cls": ("TIDE cls", "TIDE 类别"),
    "rc_def_fp_cls": ("FP on an object of another class with IoU ≥ threshold", "与另一类别目标的 IoU ≥ 阈值的 FP"),
    "rc_fp_dupe": ("TIDE dupe", "TIDE 重复"),
    "rc_def_fp_dupe": ("FP on an object of its class that a higher-scoring detection already found",
                       "落在已被分数更高的检测找到的同类别目标上的 FP"),
    "rc_fp_bkg": ("TIDE bkg", "TIDE 背景"),
    "rc_def_fp_bkg": ("FP that overlaps no object above IoU 0.1", "与任何目标的 IoU 都不超过 0.1 的 FP"),
    "rc_fp_both": ("TIDE both", "TIDE 双错"),
    "rc_def_fp_both": ("any other FP: wrong class and badly localised", "其余的 FP：类别错误且定位不准"),
    "rc_ignored_dets": ("on crowd", "落在 crowd 上"),
    "rc_def_ignored_dets": ("detections matched to a crowd or ignored region: neither TP nor FP",
                            "匹配到 crowd 或被忽略区域的检测：既不算 TP 也不算 FP"),
    "rc_beyond_top": ("beyond top 100", "超出前 100"),
    "rc_def_beyond_top": ("kept detections beyond the 100 best of their image and class: COCO skips them",
                          "超出其图像与类别中分数最高 100 个的保留检测：COCO 不计入"),
    "rc_tide_missed": ("TIDE missed", "TIDE 漏检"),
    "rc_def_tide_missed": ("FN objects that no TIDE loc or cls error points at",
                           "没有任何 TIDE 定位或类别错误指向的 FN 目标"),
    "rc_fn_loc": ("FN with a loc error", "有定位错误的 FN"),
    "rc_def_fn_loc": ("FN objects a TIDE loc error points at (their detection was badly localised)",
                      "有 TIDE 定位错误指向的 FN 目标（它的检测定位不准）"),
    "rc_fn_cls": ("FN with a cls error", "有类别错误的 FN"),
    "rc_def_fn_cls": ("FN objects a TIDE cls error points at, and no loc error (detected with the wrong class)",
                      "有 TIDE 类别错误指向、但没有定位错误指向的 FN 目标（被检测成了错误的类别）"),
    "rc_bg_col": ("background column", "背景列"),
    "rc_def_bg_col": ("confusion matrix: objects no detection of any class matched (one matching for all classes, "
                      "every kept detection)",
                      "混淆矩阵：没有任何类别的检测匹配上的目标（所有类别一起匹配，使用全部保留的检测）"),
    "rc_bg_row": ("background row", "背景行"),
    "rc_def_bg_row": ("confusion matrix: kept detections that matched no object of any class",
                      "混淆矩阵：没有匹配上任何类别目标的保留检测"),
    "rc_fn_cm_wrong": ("FN matched by another class", "被其他类别匹配的 FN"),
    "rc_def_fn_cm_wrong": ("FN objects the confusion matrix matched to a detection of another class "
                           "(off the diagonal)",
                           "在混淆矩阵中与另一类别的检测匹配的 FN 目标（非对角线）"),
    "rc_fn_cm_right": ("FN matched by its class", "被本类别匹配的 FN"),
    "rc_def_fn_cm_right": ("FN objects the confusion matrix matched to a detection of their class (a detection "
                           "COCO skipped, or one that took another object there)",
                           "在混淆矩阵中与本类别检测匹配的 FN 目标"
                           "（COCO 未计入的检测，或在 COCO 中匹配了别的目标的检测）"),
    "rc_tp_bg_col": ("found, yet background", "已检出却在背景列"),
    "rc_def_tp_bg_col": ("objects COCO found whose detection took another object in the confusion matrix's "
                         "matching", "COCO 已检出、但其检测在混淆矩阵的匹配中匹配了别的目标的目标"),
    "rc_crowd_fp_bkg": ("TIDE bkg on crowd", "落在 crowd 上的 TIDE 背景"),
    "rc_def_crowd_fp_bkg": ("TIDE bkg FP that the confusion matrix matched to a crowd region of another class",
                            "在混淆矩阵中匹配到另一类别 crowd 区域的 TIDE 背景 FP"),
    "rc_in_bg_row": ("{name} in the background row", "背景行中的{name}"),
    # --- compare two prediction sets (evaluate_compare, evaluate_compare_views; cvdemo.metrics.comparison) ---
    "compare_heading": ("Compare two prediction sets", "比较两组预测"),
    "compare_intro": (
        """Two models, or two uploads, on the **same data set**: set **A** and set **B** are each uploaded
predictions or a detection model run now on the data set's images. **Compare** shows both sets' COCO numbers
and B − A, the AP of each class and its change, and the images where they disagree most. **Disagreement** of
an image = objects found by A only + objects found by B only + |FP of A − FP of B|, at the IoU and score
thresholds below (the IoU threshold also decides which objects count as found).""",
        "两个模型或两次上传，在**同一个数据集**上：集合 **A** 与集合 **B** 各自是上传的预测，或现在在数据集图像上运行的"
        "一个检测模型。点击**比较**后显示两组的 COCO 指标及 B − A、每个类别的 AP 及其变化，以及两者分歧最大的图像。"
        "一张图像的**分歧** = 仅 A 检出的目标数 + 仅 B 检出的目标数 + |A 的 FP − B 的 FP|，按下方的 IoU 与分数阈值计算"
        "（IoU 阈值也决定哪些目标算作被检出）。"),
    "compare_preds_a_label": ("Set A: predictions (COCO results .json or YOLO .txt, or .zip)",
                              "集合 A：预测（COCO 结果 .json 或 YOLO .txt，或 .zip）"),
    "compare_preds_b_label": ("Set B: predictions (COCO results .json or YOLO .txt, or .zip)",
                              "集合 B：预测（COCO 结果 .json 或 YOLO .txt，或 .zip）"),
    "compare_model_a_label": ("Set A from", "集合 A 的来源"),
    "compare_model_b_label": ("Set B from", "集合 B 的来源"),
    "compare_button": ("Compare", "比较"),
    "compare_coco_label": ("COCO: A, B and B − A", "COCO：A、B 及 B − A"),
    "compare_classes_label": ("AP per class: A, B and B − A", "各类别 AP：A、B 及 B − A"),
    "compare_images_label": ("Where A and B disagree most (click a row to view it)",
                             "A 与 B 分歧最大的图像（点击一行即可查看）"),
    "compare_image_a_label": ("Set A on this image", "集合 A 在此图像上的结果"),
    "compare_image_b_label": ("Set B on this image", "集合 B 在此图像上的结果"),
    "col_disagreement": ("disagreement", "分歧"),
    "col_only_a": ("found by A only", "仅 A 检出"),
    "col_only_b": ("found by B only", "仅 B 检出"),
    "compare_progress": ("Loading and comparing…", "正在加载并比较…"),
    "cannot_compare_title": ("Cannot compare these prediction sets", "无法比较这两组预测"),
    "compare_in_set": ("prediction set {side}: {error}", "预测集 {side}：{error}"),
    "compare_set_upload": ("{predictions:,} uploaded predictions", "{predictions:,} 个上传的预测"),
    "compare_set_model": ("{predictions:,} predictions of {model} ({model_seconds:.1f} s on {device})",
                          "{model} 的 {predictions:,} 个预测（在 {device} 上用时 {model_seconds:.1f} 秒）"),
    "compare_status": ("**{format}**: {images:,} images, {objects:,} objects, {classes} classes · **A**: {set_a} · "
                       "**B**: {set_b} · compared in {seconds:.1f} s",
                       "**{format}**：{images:,} 张图像，{objects:,} 个目标，{classes} 个类别 · **A**：{set_a} · "
                       "**B**：{set_b} · 比较用时 {seconds:.1f} 秒"),
    "compare_counts": ("At IoU ≥ {iou:.2f} and score ≥ {score:.2f}: **A** TP {tp_a:,} · FP {fp_a:,} · FN {fn_a:,}"
                       " · **B** TP {tp_b:,} · FP {fp_b:,} · FN {fn_b:,} · they disagree on **{disagreeing:,}** of "
                       "{images:,} images ({only_a:,} objects found by A only, {only_b:,} by B only)",
                       "IoU ≥ {iou:.2f}、分数 ≥ {score:.2f} 时：**A** TP {tp_a:,} · FP {fp_a:,} · FN {fn_a:,}"
                       " · **B** TP {tp_b:,} · FP {fp_b:,} · FN {fn_b:,} · 两者在 {images:,} 张图像中的 "
                       "**{disagreeing:,}** 张上有分歧（仅 A 检出 {only_a:,} 个目标，仅 B 检出 {only_b:,} 个）"),
    "compare_agree": ("A and B find the same objects, with as many false positives, in every image.",
                      "在每张图像上，A 与 B 检出的目标相同，假阳性数量也相同。"),
    "compare_image_line": ("Image **{image_id}** {file} · disagreement **{disagreement}** · found by A only: {only_a}"
                           " · found by B only: {only_b} · FP: A {fp_a}, B {fp_b}",
                           "图像 **{image_id}** {file} · 分歧 **{disagreement}** · 仅 A 检出：{only_a}"
                           " · 仅 B 检出：{only_b} · FP：A {fp_a}，B {fp_b}"),
    "none": ("none", "无"),
})
