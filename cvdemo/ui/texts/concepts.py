"""The Concepts tab (`cvdemo/ui/concepts_tab.py`) and its figures (`cvdemo/ui/concept_figures.py`).

The Chinese Markdown keeps each paragraph on one line (a line break inside a Chinese paragraph would render as
a stray space); the English keeps its original wrapping.
"""

from cvdemo.ui.i18n import Catalog

T = Catalog("concepts", {
    # ------------------------------------------------------------ explanations (concepts_tab)
    "sinusoid_md": (
        """### Sinusoidal position encoding
Attention by itself ignores order: shuffle the tokens and each output is the same. Transformers therefore
add a **position encoding** to every token. The original one is a set of sines and cosines with
geometrically falling frequencies: each position gets a unique pattern, and the dot product of two
encodings depends only on how far apart they are (right).""",
        "### 正弦位置编码\n"
        "注意力本身并不考虑顺序：打乱词元（token）的顺序，每个词元的输出仍然不变。因此 Transformer 会给每个词元"
        "加上一个**位置编码**。最初的位置编码由一组频率按几何级数递减的正弦和余弦函数构成：每个位置都得到独一无二的"
        "模式，而两个位置编码的点积只取决于两个位置相距多远（右图）。"),
    "grid_md": (
        """### 1-D versus 2-D encodings on an image grid
A ViT or DETR sees a grid of patches. Number the grid in reading order and encode that index (left), and
the cell right below the marked one is *W* steps away, as far as a distant cell in the same row. DETR's 2-D
sine encoding spends half the channels on *y* and half on *x* (right): similarity falls off in both
directions.""",
        "### 图像网格上的一维编码与二维编码\n"
        "ViT 和 DETR 看到的是由图像块（patch）组成的网格。如果按阅读顺序给网格编号，再对这个序号做编码（左图），"
        "那么标记格正下方的那一格与它相隔 *W* 步，和同一行中很远的格子一样远。DETR 的二维正弦编码把一半通道用于 *y*，"
        "另一半用于 *x*（右图）：相似度在两个方向上都随距离衰减。"),
    "attention_md": (
        r"""### Scaled dot-product attention
Each token emits a **query** q, a **key** k and a **value** v (learned projections of its embedding).
Token i's output is a weighted mean of all values, weighted by softmax(qᵢ·kⱼ / √d_k) over j.
Without the 1/√d_k the dot products grow with d_k and the softmax turns one-hot: raise d_k with scaling
off and watch the weights (bottom middle) collapse.""",
        "### 缩放点积注意力\n"
        "每个词元都会产生一个**查询** q、一个**键** k 和一个**值** v（由该词元的嵌入经可学习的线性投影得到）。"
        "词元 i 的输出是所有值的加权平均，权重为 softmax(qᵢ·kⱼ / √d_k)（对 j 做 softmax）。"
        "如果不乘 1/√d_k，点积会随 d_k 增大而增大，softmax 的输出也会趋于 one-hot：关闭缩放后增大 d_k，"
        "观察权重（下排中间的图）如何塌缩到单个词元上。"),
    "iou_md": (
        """### IoU, precision and recall
**IoU** (intersection over union) = area(A ∩ B) / area(A ∪ B), from 0 (disjoint) to 1 (identical).
A prediction is a **true positive** (TP) when its IoU with an unmatched ground-truth box of its class reaches
the threshold, otherwise a **false positive** (FP); a ground-truth box no prediction matches is a
**false negative** (FN).
**Precision** = TP / (TP + FP), the share of predictions that are right;
**recall** = TP / (TP + FN), the share of objects found. COCO's AP averages precision over recall levels
and over IoU thresholds 0.50, 0.55, …, 0.95.""",
        "### IoU、精确率与召回率\n"
        "**IoU**（交并比）= 面积(A ∩ B) / 面积(A ∪ B)，取值从 0（不相交）到 1（完全重合）。"
        "如果一个预测与同类别中某个尚未匹配的真值框的 IoU 达到阈值，它就是**真阳性**（TP），否则是**假阳性**（FP）；"
        "没有任何预测与之匹配的真值框则是**假阴性**（FN）。"
        "**精确率** = TP / (TP + FP)，即预测中正确的比例；"
        "**召回率** = TP / (TP + FN)，即被找到的目标所占的比例。"
        "COCO 的 AP 在各个召回率水平上、并在 IoU 阈值 0.50、0.55、…、0.95 上对精确率求平均。"),
    # ------------------------------------------------------------ controls (concepts_tab)
    "d_model": ("d_model (channels)", "d_model（通道数）"),
    "length": ("sequence length", "序列长度"),
    "grid_rows": ("grid rows (H)", "网格行数（H）"),
    "grid_cols": ("grid columns (W)", "网格列数（W）"),
    "marked_row": ("marked row", "标记行"),
    "marked_col": ("marked column", "标记列"),
    "d_k": ("d_k (query/key size)", "d_k（查询/键的维度）"),
    "seed": ("random seed (embeddings and projections)", "随机种子（嵌入与投影）"),
    "scaled": ("divide by √d_k", "除以 √d_k"),
    "ground_truth_box": ("**Ground truth** (green): top-left corner x, y; width w, height h",
                         "**真值**（绿色）：左上角坐标 x、y；宽 w，高 h"),
    "prediction_box": ("**Prediction** (blue)", "**预测**（蓝色）"),
    "box_x": ("x", "x"),
    "box_y": ("y", "y"),
    "box_w": ("w", "w"),
    "box_h": ("h", "h"),
    "iou_threshold": ("IoU threshold", "IoU 阈值"),
    # ------------------------------------------------------------ figures (concept_figures)
    "pe_title": ("PE[pos, channel] (d_model={d_model})", "PE[位置, 通道]（d_model={d_model}）"),
    "pe_gram_title": ("PE[p]·PE[q]: depends on |p − q| only", "PE[p]·PE[q]：只取决于 |p − q|"),
    "pe_hover": ("pos {pos}, channel {channel}: {value}", "位置 {pos}，通道 {channel}：{value}"),
    "position": ("position", "位置"),
    "channel_axis": ("channel (even: sin, odd: cos; frequency falls left to right)",
                     "通道（偶数：sin，奇数：cos；频率从左到右递减）"),
    "grid_1d_title": ("1-D: flatten the grid, encode index row·W + col", "一维：把网格展平，编码序号 row·W + col"),
    "grid_2d_title": ("2-D (DETR): half the channels for y, half for x", "二维（DETR）：一半通道编码 y，一半编码 x"),
    "grid_hover": ("row {row}, col {col}: {value}", "第 {row} 行，第 {col} 列：{value}"),
    "grid_title": ("Similarity of the marked position to all others", "标记位置与其他所有位置的相似度"),
    "toy_sentence": ("the cat sat on the mat", "小猫 坐 在 那张 垫子 上"),  # six tokens in both languages
    "scores_scaled": ("scores Q·Kᵀ / √{d_k}", "分数 Q·Kᵀ / √{d_k}"),
    "scores_unscaled": ("scores Q·Kᵀ (not scaled)", "分数 Q·Kᵀ（未缩放）"),
    "weights_title": ("weights = softmax(scores)", "权重 = softmax(分数)"),
    "output_title": ("output = weights · V", "输出 = 权重 · V"),
    "attention_title": ("Scaled dot-product attention, d_k={d_k}: mean entropy of a weight row {entropy:.2f} nats "
                        "(uniform: {uniform:.2f})",
                        "缩放点积注意力，d_k={d_k}：权重各行的平均熵为 {entropy:.2f} nat"
                        "（均匀分布时为 {uniform:.2f}）"),
    "ground_truth": ("ground truth", "真值"),
    "prediction": ("prediction", "预测"),
    "true_positive": ("**IoU {iou:.3f} ≥ {threshold:.2f}: a true positive** (if the class is right and no "
                      "higher-scoring prediction already took this object).",
                      "**IoU {iou:.3f} ≥ {threshold:.2f}：真阳性**（前提是类别正确，且这个目标没有被分数更高的预测"
                      "先匹配走）。"),
    "false_positive": ("**IoU {iou:.3f} < {threshold:.2f}: a false positive**, and the object, unless another "
                       "prediction finds it, is a false negative (a miss).",
                       "**IoU {iou:.3f} < {threshold:.2f}：假阳性**；除非有其他预测找到这个目标，否则它就是一个"
                       "假阴性（漏检）。"),
})
