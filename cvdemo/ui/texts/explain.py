"""Text shared by the Attention and Detect tabs' "Explain" sections: the shipped faithfulness table
(`cvdemo/ui/explain_table.py`)."""

from cvdemo.ui.i18n import Catalog

T = Catalog("explain", {
    "table_heading": (
        "**Which map to trust on {model}** — measured on {objects} objects of {images} fresh images "
        "(`benchmarks/bench_explain_faithfulness.py`, {steps} steps, blurred baseline; 95 % intervals):",
        "**在 {model} 上该相信哪种图** —— 在 {images} 张新生成图像的 {objects} 个目标上测得"
        "（`benchmarks/bench_explain_faithfulness.py`，{steps} 步，模糊基线；95% 区间）："),
    "col_method": ("method", "方法"),
    "col_pointing": ("pointing game ↑", "指向游戏 ↑"),
    "col_deletion": ("deletion AUC ↓", "删除 AUC ↓"),
    "col_insertion": ("insertion AUC ↑", "插入 AUC ↑"),
    "col_minus_random": ("deletion − random", "删除 − 随机"),
    "m_raw attention": ("raw attention (last layer)", "原始注意力（最后一层）"),
    "m_rollout": ("rollout", "注意力展开"),
    "m_gradient rollout": ("gradient rollout", "梯度展开"),
    "m_relevance": ("relevance (Chefer)", "相关性（Chefer）"),
    "m_cross-attention": ("cross-attention (last layer)", "交叉注意力（最后一层）"),
    "m_random": ("random map (baseline)", "随机图（基线）"),
    "best": ("Here the most faithful map by deletion AUC is **{deletion}**; the best pointer is **{pointing}**.",
             "在这里，按删除 AUC 最忠实的是 **{deletion}**；指向最准的是 **{pointing}**。"),
    "paper_disagrees": (
        "This disagrees with Chefer et al. (2021), who report their relevance beating raw attention and rollout "
        "(perturbation tests on ImageNet ViTs, segmentation tests on COCO's DETR); here, on a small model and "
        "simple images, **{best}** does better by the deletion test.",
        "这与 Chefer 等人（2021）的结论不同：他们报告相关性优于原始注意力和注意力展开（ImageNet 上 ViT 的扰动测试、"
        "COCO 上 DETR 的分割测试）；而在这里（小模型、简单图像），按删除测试是 **{best}** 更好。"),
    "not_better": ("**{method}** is not clearly more faithful than a random map here (its deletion AUC minus the "
                   "random map's has an interval reaching 0 or above): do not read much into it.",
                   "**{method}** 在这里并不明显比随机图更忠实（其删除 AUC 减去随机图的差值区间达到或超过 0）："
                   "不要过度解读它。"),
    "other_model": ("These figures are for {model}; your model ({current}) has not been measured: use the "
                    "AUCs beside each map.",
                    "这些数字属于 {model}；你的模型（{current}）尚未测量：请看每张图旁边的 AUC。"),
    "no_table": ("No shipped faithfulness figures for {model} (`python -m benchmarks.bench_explain_faithfulness "
                 "--model {model}` makes them).",
                 "没有随附的 {model} 忠实度数据（运行 `python -m benchmarks.bench_explain_faithfulness "
                 "--model {model}` 即可生成）。"),
})
