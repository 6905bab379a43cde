"""Text of the Matching tab (`cvdemo/ui/match_tab.py`, `matching_views.py`, `matching_figures.py`), and of the
messages the core sends it: the Hungarian steps (`cvdemo.hungarian.HungarianStep.messages`, keys "step_..."), the
ground-truth errors (`cvdemo.ground_truth_text`) and the validation-image errors (`cvdemo.matching_run`). Their
English is the core's own text (one source), the Chinese is here."""

from cvdemo.ground_truth_text import GROUND_TRUTH_TEXTS
from cvdemo.hungarian import STEP_TEXTS
from cvdemo.matching_run import RUN_TEXTS
from cvdemo.ui.i18n import Catalog

# the Chinese of the core's messages; the English comes from the core (checked in Catalog: same fields)
_CORE_CHINESE = {
    # cvdemo.matching_run / cvdemo.ground_truth_text
    "no_such_validation_image": "验证图像 {index} 不存在：请选择 0 到 {last}",
    "model_lacks_shapes": "这个模型不认识这些形状（{missing}）：它的类别不同。请选择在形状数据上训练的模型，"
                          "或者上传一张图像，并用这个模型的类别名输入标注框。",
    "gt_count": "第 {line} 行（'{text}'）：应有 5 个值 'label x0 y0 x1 y1'，实际为 {count} 个",
    "gt_numbers": "第 {line} 行（'{text}'）：x0 y0 x1 y1 必须是数字（像素）",
    "gt_finite": "第 {line} 行：角点坐标必须是有限数值",
    "gt_inverted": "第 {line} 行：框 {box} 为空或方向颠倒；需要 x0 < x1 且 y0 < y1（先写左上角）",
    "gt_outside": "第 {line} 行：框 {box} 超出了图像范围，图像为 {w}×{h} 像素（x 在 [0, {w}] 内，y 在 [0, {h}] 内）",
    "gt_empty": "没有真值框：请为每个目标写一行 'label x0 y0 x1 y1'",
    "gt_too_many": "有 {count} 个真值框，但模型只有 {queries} 个查询：DETR 为每个目标匹配一个查询，"
                   "所以最多只能给这么多",
    "gt_unknown_label": "第 {line} 行：未知类别 '{token}'；这个模型认识的类别为 {known}（或它们的索引 0-{last}）",
    "gt_not_text": "真值必须是文本：每个目标一行 'label x0 y0 x1 y1'（收到的是 {kind}）",
    # cvdemo.hungarian: the sentences of the steps
    "step_start_wide": "代价矩阵：需要做出 {k} 个分配。为每一行分配一列；列数多于行数，因此不对列做归约。",
    "step_start_square": "代价矩阵：需要做出 {k} 个分配。为每一行分配一列。",
    "step_start_tall": "代价矩阵：需要做出 {k} 个分配。行数多于列数，因此为每一列分配一行；不对行做归约。",
    "step_rescaled": "所有数值都乘以了 2^-{shift}（精确运算），以免求和溢出。",
    "step_reduce_rows": "从每一行中减去该行的最小值：现在每一行都有一个零，而每种分配的代价都减少了同样的量。",
    "step_reduce_columns": "从每一列中减去该列的最小值：现在每一列都有一个零，而每种分配的代价都减少了同样的量。",
    "step_reduce_columns_square": "从每一列中减去该列的最小值：矩阵是方阵，所以每一列也恰好被用到一次。",
    "step_star_in_rows": "在每一行中给一个零标星（前提是它所在的列还没有星号）：共 {count} 个星号零，"
                         "任意两个都不在同一行或同一列（构成一个部分分配）。",
    "step_star_in_columns": "在每一列中给一个零标星（前提是它所在的行还没有星号）：共 {count} 个星号零，"
                            "任意两个都不在同一行或同一列（构成一个部分分配）。",
    "step_cover_columns_done": "覆盖每个含有星号零的列：已覆盖 {count} 条；每一行都有一个星号零：这就是一个最优分配。",
    "step_cover_columns_more": "覆盖每个含有星号零的列：已覆盖 {count} 条；需要 {k} 条，因此继续寻找更多的零。",
    "step_cover_rows_done": "覆盖每个含有星号零的行：已覆盖 {count} 条；每一列都有一个星号零：这就是一个最优分配。",
    "step_cover_rows_more": "覆盖每个含有星号零的行：已覆盖 {count} 条；需要 {k} 条，因此继续寻找更多的零。",
    "step_prime_row_star": "给位于 ({r}, {c}) 的未覆盖零标撇。它所在的行在 ({sr}, {sc}) 处有星号："
                           "覆盖这一行，并取消覆盖该星号所在的列。",
    "step_prime_row_free": "给位于 ({r}, {c}) 的未覆盖零标撇。它所在的行没有星号：一条增广路径从这里开始。",
    "step_prime_column_star": "给位于 ({r}, {c}) 的未覆盖零标撇。它所在的列在 ({sr}, {sc}) 处有星号："
                              "覆盖这一列，并取消覆盖该星号所在的行。",
    "step_prime_column_free": "给位于 ({r}, {c}) 的未覆盖零标撇。它所在的列没有星号：一条增广路径从这里开始。",
    "step_adjust": "没有未覆盖的零：未覆盖元素中的最小值为 {h:.6g}。把每个未覆盖元素减去它，"
                   "再把每个被覆盖两次的元素加上它：星号零和撇号零仍为零，并出现一个新的零。",
    "step_augment": "增广路径 {path}：把路径上的撇号零改为星号零，去掉路径上原有的星号（现在共 {stars} 个星号），"
                    "清除所有撇号并取消所有覆盖。",
    "step_done": "最优分配 {pairs}：在原始矩阵中的总代价为 {total:.6g}。",
    "step_done_empty": "最优分配（空）：在原始矩阵中的总代价为 {total:.6g}。",
    "step_done_direct": "为什么步骤这么少：归约之后，星号零已经构成一个完整的分配（{k} 个星号，任意两个都不在同一行或"
                        "同一列），所以不需要画覆盖线、不需要调整，也不需要增广路径。训练好的模型的代价矩阵常常如此："
                        "每个目标都有一个明显代价最低的查询。困难示例或随机矩阵可以展示完整的算法。",
}
_CORE_ENGLISH = {**RUN_TEXTS, **GROUND_TRUTH_TEXTS, **STEP_TEXTS}
if set(_CORE_CHINESE) != set(_CORE_ENGLISH):
    raise ValueError(f"catalog 'match': the core's messages and their Chinese differ: "
                     f"{sorted(set(_CORE_CHINESE) ^ set(_CORE_ENGLISH))}")

T = Catalog("match", {
    # --- the layout (static) -------------------------------------------------------------------------
    "intro": (
        """DETR predicts a fixed set of **object queries** and is trained with a **set loss**: first each
ground-truth object gets exactly one query (the **Hungarian matching**, minimising a cost of class, L1 and GIoU
terms), then matched queries learn their object and all others learn *no object*. Pick a validation image of
the shapes set (or upload an image and type its boxes), change the **cost weights** (Enter applies) to re-solve
the matching (the model does not run again), and step through the Hungarian algorithm: on this matching's cost,
or on the hard example or a random matrix, which need every kind of step.""",
        """DETR 预测一组固定数量的**目标查询**（object query），并用**集合损失**训练：先为每个真值目标分配恰好一个查询
（即**匈牙利匹配**，最小化由类别、L1 和 GIoU 三项组成的代价），然后被匹配的查询学习预测其目标，其余查询都学习预测
*无目标*。选一张形状数据集的验证图像（或上传一张图像并输入其标注框），修改**代价权重**（按回车应用）重新求解匹配（模型不会再次运行），
并逐步查看匈牙利算法的执行过程：可以用当前匹配的代价，也可以用需要每一类步骤的困难示例或随机矩阵。"""),
    "source_label": ("Image", "图像"),
    "source_shapes": ("Shapes validation image", "形状验证图像"),
    "source_upload": ("Your image + boxes", "你的图像 + 标注框"),
    "val_index_label": ("Validation image", "验证图像"),
    "val_index_info_any": ("one of the generated validation images of the shapes set",
                           "形状数据集中生成的一张验证图像"),
    "val_index_info": ("one of the {n} generated validation images of the shapes set",
                       "形状数据集中生成的 {n} 张验证图像之一"),
    "image_label": ("Your image (PNG, JPEG, WebP, GIF, BMP or TIFF)", "你的图像（PNG、JPEG、WebP、GIF、BMP 或 TIFF）"),
    "gt_label": ("Ground truth", "真值"),
    "gt_help": ("One object per line: `label x0 y0 x1 y1` in pixels of the image (top-left, bottom-right corner); "
                "the label is a class name or its index. Filled in for validation images.",
                "每行一个目标：`label x0 y0 x1 y1`，单位为图像像素（左上角、右下角）；label 为类别名或其索引。"
                "选择验证图像时会自动填写。"),
    "gt_placeholder": ("circle 10 12 50 60\nstar 70 20 110 64",
                       "# 类别 x0 y0 x1 y1（像素）\ncircle 10 12 50 60\nstar 70 20 110 64"),
    "weight_class": ("Weight of the class term −p", "类别项 −p 的权重"),
    "weight_l1": ("Weight of the L1 term", "L1 项的权重"),
    "weight_giou": ("Weight of the −GIoU term", "−GIoU 项的权重"),
    "layer_label": ("Decoder layer", "解码器层"),
    "layer_info": ("earlier layers are DETR's auxiliary outputs", "较早的层是 DETR 的辅助输出"),
    "match_button": ("Match", "匹配"),
    "match_image_label": ("Ground truth (thick) and the query matched to each; grey: no object",
                          "真值（粗框）及与每个真值匹配的查询；灰色：无目标"),
    "cost_plot_label": ("Cost matrices (queries × ground truth)", "代价矩阵（查询 × 真值）"),
    "steps_heading": ("### The Hungarian algorithm, step by step (on the total cost)",
                      "### 匈牙利算法，逐步演示（基于总代价）"),
    "back_button": ("◀ Back", "◀ 上一步"),
    "step_button": ("Step ▶", "下一步 ▶"),
    "play_button": ("Play ▶▶", "播放 ▶▶"),
    "pause_button": ("Pause", "暂停"),
    "step_slider_label": ("Step", "步骤"),
    "loss_heading": ("### The loss of each query (with this matching)", "### 每个查询的损失（在此匹配下）"),
    "p_vs_log_p": (
        """#### Why −p in the matching cost but −log p in the loss?
The **matcher** uses **−p(class)**: it is bounded in [−1, 0], on the same scale as the box terms, so one
confident mistake (p ≈ 0) cannot dominate the whole assignment; −log p would be unbounded there (−log 0.001 ≈ 6.9)
and would decide the matching on its own. The **loss** then uses the cross-entropy **−log p**, whose gradient
stays strong when p is small, which is what training needs. Compare the two columns in the table above: −p is
near −1 for a good match while −log p is near 0. Unmatched queries are trained towards *no object* with weight
`eos_coef` = 0.1, so the many empty queries do not drown the few real ones; the box losses (L1, 1 − GIoU) only
count for matched queries, divided by the number of objects.""",
        """#### 为什么匹配代价用 −p，而损失用 −log p？
**匹配器**使用 **−p(类别)**：它有界，取值在 [−1, 0]，与框的代价项处于同一量级，因此一个高置信度的错误（p ≈ 0）
不会左右整个分配；而 −log p 在那里是无界的（−log 0.001 ≈ 6.9），会单独决定匹配结果。**损失**则使用交叉熵 **−log p**，
它在 p 很小时梯度依然很大，这正是训练所需要的。对比上表中的这两列：匹配良好时 −p 接近 −1，而 −log p 接近 0。
未匹配的查询以权重 `eos_coef` = 0.1 朝*无目标*训练，这样大量空查询不会淹没少数真正的目标；框损失（L1、1 − GIoU）
只对被匹配的查询计算，并除以目标数。"""),
    "layers_heading": ("### Matches in every decoder layer", "### 每个解码器层中的匹配"),
    "compare_heading": ("### One-to-many IoU assignment + NMS vs one-to-one matching",
                        "### 一对多 IoU 分配 + NMS 与一对一匹配的对比"),
    "one_to_many_label": ("One-to-many (IoU, then NMS)", "一对多（IoU，然后 NMS）"),
    "compare_legend": ("*Left: every query that overlaps an object with IoU ≥ 0.5 is a positive for it, in the "
                       "object's colour; thick captioned boxes are kept by NMS, thin uncaptioned ones are removed "
                       "by NMS (listed in the table below). Right: the one query the Hungarian matching gives each "
                       "object.*",
                       "*左图：与某个目标的 IoU ≥ 0.5 的每个查询都是它的正样本，用该目标的颜色绘制；带标注的粗框被 NMS "
                       "保留，不带标注的细框被 NMS 去除（见下表）。右图：匈牙利匹配为每个目标分配的唯一查询。*"),
    "one_to_one_label": ("One-to-one: the Hungarian matching", "一对一：匈牙利匹配"),
    # --- table headers ----------------------------------------------------------------------------------
    "col_query": ("query", "查询"),
    "col_matched_to": ("matched to", "匹配到"),
    "col_target_class": ("target class", "目标类别"),
    "col_p_target": ("p(target)", "p(目标类别)"),
    "col_neg_p": ("−p (matcher)", "−p（匹配器）"),
    "col_neg_log_p": ("−log p (CE)", "−log p（CE）"),
    "col_ce_weight": ("CE weight", "CE 权重"),
    "col_l1": ("L1", "L1"),
    "col_giou": ("1 − GIoU", "1 − GIoU"),
    "col_share": ("share of loss", "损失贡献"),
    "col_gt": ("GT", "真值"),
    "col_positives": ("one-to-many positives (IoU)", "一对多正样本（IoU）"),
    "col_kept": ("kept after NMS", "NMS 后保留"),
    "col_hungarian": ("one-to-one (Hungarian)", "一对一（匈牙利）"),
    "none": ("none", "无"),
    "differs_from_last": ("≠ last", "≠ 最后一层"),
    # --- run-time text ----------------------------------------------------------------------------------
    "layer_last": ("{i} (last: the model's output)", "{i}（最后一层：模型的输出）"),
    "layer_aux": ("{i} (aux output)", "{i}（辅助输出）"),
    "weights_title": ("Cost weights", "代价权重"),
    "weights_zero": ("All three cost weights are 0: there is nothing to minimise. Set at least one above 0.",
                     "三个代价权重都为 0：没有需要最小化的代价。请至少把一个设为大于 0。"),
    "gt_error_title": ("Check the ground truth", "请检查真值"),
    "validation_error_title": ("Cannot use this validation image", "无法使用这张验证图像"),
    "source_yours": ("your image", "你的图像"),
    "source_validation": ("shapes validation image {i}", "形状验证图像 {i}"),
    "objects_one": ("{n} object", "{n} 个目标"),
    "objects_many": ("{n} objects", "{n} 个目标"),
    "summary": ("**{objects}, {q} queries:** {matched} matched, {unmatched} trained as *no object* · total "
                "matching cost of the assignment **{cost:.3f}** · decoder layer {layer} of {layers}",
                "**{objects}，{q} 个查询**：{matched} 个已匹配，{unmatched} 个作为*无目标*训练 · 该分配的总匹配代价 "
                "**{cost:.3f}** · 解码器第 {layer} 层（共 {layers} 层）"),
    "summary_run": ("{source} ({w}×{h}) · {model} · model {ms:.0f} ms",
                    "{source}（{w}×{h}）· {model} · 模型耗时 {ms:.0f} ms"),
    "loss_totals": ("**loss_ce** {ce:.4f} · **loss_bbox** (L1) {bbox:.4f} · **loss_giou** {giou:.4f} → weighted "
                    "total {w_ce:g}·CE + {w_bbox:g}·L1 + {w_giou:g}·GIoU = **{total:.4f}** (the sum of the last "
                    "column). The loss weights stay at DETR's 1, 5, 2; the weight fields change only the matching "
                    "cost.",
                    "**loss_ce** {ce:.4f} · **loss_bbox**（L1）{bbox:.4f} · **loss_giou** {giou:.4f} → 加权总损失 "
                    "{w_ce:g}·CE + {w_bbox:g}·L1 + {w_giou:g}·GIoU = **{total:.4f}**（即最后一列之和）。损失权重固定为 "
                    "DETR 的 1、5、2；权重输入框只改变匹配代价。"),
    "layers_note": ("{changed} of {total} earlier-layer matches differ from the last layer's. Every layer is "
                    "matched on its own (DETR's auxiliary losses), so an early layer may pick other queries.",
                    "较早各层的 {total} 个匹配中有 {changed} 个与最后一层不同。"
                    "每一层都单独做匹配（对应 DETR 的辅助损失），所以较早的层可能选中别的查询。"),
    "duplicates_one": ("{n} duplicate", "{n} 个重复"),
    "duplicates_many": ("{n} duplicates", "{n} 个重复"),
    "comparison": ("**One-to-many** (Faster R-CNN's rule: every query with IoU ≥ {iou} to an object, and each "
                   "object's best-overlapping queries): {positives} positives for {n} objects, **{duplicates}**; "
                   "after NMS {kept} kept, **{duplicates_after}** left.  \n**One-to-one** (Hungarian): {matched} "
                   "queries for {n} objects, **0 duplicates** by construction, so DETR learns to predict each "
                   "object once and needs no NMS.",
                   "**一对多**（Faster R-CNN 的规则：与某个目标的 IoU ≥ {iou} 的每个查询，"
                   "以及与每个目标重叠最大的查询）：{n} 个目标共有 {positives} 个正样本，**{duplicates}**；"
                   "NMS 后保留 {kept} 个，仍有 **{duplicates_after}**。  \n"
                   "**一对一**（匈牙利）：{n} 个目标对应 {matched} 个查询，按构造**没有重复**，"
                   "因此 DETR 学会对每个目标只预测一次，不需要 NMS。"),
    "step_header": ("**Step {i} of {n} · {kind}**", "**第 {i} 步（共 {n} 步）· {kind}**"),
    "step_indices": ("*(row, column) = (query q, ground truth GT k), both from 0*",
                     "*（行, 列）=（查询 q，真值 GT k），均从 0 开始编号*"),
    "step_indices_plain": ("*(row, column), both from 0*", "*（行, 列），均从 0 开始编号*"),
    "step_source_label": ("Step through", "逐步演示的矩阵"),
    "step_source_matching": ("this matching's cost", "当前匹配的代价"),
    "step_source_hard": ("the hard example (5 × 5)", "困难示例（5 × 5）"),
    "step_source_random": ("a random matrix", "随机矩阵"),
    "step_source_info": ("the hard example and random matrices need covering lines, adjustments and augmenting "
                         "paths; press Enter in a number field to apply it",
                         "困难示例和随机矩阵需要覆盖线、调整和增广路径；在数字框中按回车即可应用"),
    "random_seed_label": ("Random matrix: seed", "随机矩阵：种子"),
    "random_rows_label": ("rows", "行数"),
    "random_cols_label": ("columns", "列数"),
    # --- labels ----------------------------------------------------------------------------------------
    "no_object": ("no object", "无目标"),
    "class_n": ("class {k}", "类别 {k}"),
    # --- the Hungarian steps: the names of their kinds (their sentences are the core's messages, below) -----
    "kind_start": ("start", "开始"),
    "kind_reduce_rows": ("row reduction", "行归约"),
    "kind_reduce_columns": ("column reduction", "列归约"),
    "kind_star": ("star", "标星"),
    "kind_cover": ("cover", "覆盖"),
    "kind_prime": ("prime", "标撇"),
    "kind_adjust": ("adjust", "调整"),
    "kind_augment": ("augment", "增广"),
    "kind_done": ("done", "完成"),
    # --- matching_figures ---------------------------------------------------------------------------------
    "cost_title": ("Matching cost (yellow = cheap, purple = expensive; red outline = the Hungarian assignment)",
                   "匹配代价（黄色 = 低，紫色 = 高；红框 = 匈牙利算法给出的分配）"),
    "term_class_title": ("class: −p(GT class)", "类别：−p(真值类别)"),
    "term_l1_title": ("L1 of (cx, cy, w, h)", "(cx, cy, w, h) 的 L1"),
    "term_total_title": ("total = {w_cls:g}·class + {w_l1:g}·L1 + {w_giou:g}·(−GIoU)",
                         "总代价 = {w_cls:g}·类别 + {w_l1:g}·L1 + {w_giou:g}·(−GIoU)"),
    "hover_class": ("class", "类别"),
    "hover_bbox": ("bbox", "框 L1"),
    "hover_giou": ("giou", "−GIoU"),
    "hover_total": ("total", "总代价"),
    "step_title": ("Reduced cost · ★ starred (assigned) · ′ primed · orange = covered line",
                   "归约后的代价 · ★ 星号零（已分配）· ′ 撇号零 · 橙色 = 被覆盖的行或列"),
    # --- the core's messages: English from the core, Chinese above ---------------------------------------
    **{name: (english, _CORE_CHINESE[name]) for name, english in _CORE_ENGLISH.items()},
})
