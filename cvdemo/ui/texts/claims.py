"""The Claims tab's text (`cvdemo/ui/claims_tab.py` and its views, `cvdemo/ui/claims_views.py`)."""

from cvdemo.ui.i18n import Catalog

T = Catalog("claims", {
    # layout
    "intro": (
        """The study notes make claims a learner is asked to believe: GELU beats ReLU, a CNN beats a ViT on small
data, sine-cosine and learned position embeddings are interchangeable... Here each claim is a **controlled
experiment**: the same data, seeds and training recipe for every variant, only the one thing the claim is about
changed, several seeds each. The curves are the mean over seeds with the band from the worst to the best seed; the
table gives the final metric (mean ± standard deviation) and each difference with its 95 % interval; the
**verdict** is written by rule from those numbers, never by hand, even where it contradicts the notes.""",
        "学习笔记里有许多要学习者相信的论断：GELU 比 ReLU 好，小数据上 CNN 胜过 ViT，正弦余弦位置编码和可学习的位置"
        "编码可以互换……这里每个论断都是一个**对照实验**：所有变体使用相同的数据、随机种子和训练方法，只改变论断所涉及"
        "的那一点，每个变体跑多个种子。曲线是各种子的平均值，阴影带从最差的种子到最好的种子；表格给出最终指标（均值 ± "
        "标准差）以及每个差值的 95% 置信区间；**结论**由规则根据这些数字写出，从不手写，即使它与笔记相矛盾。"),
    "claim_label": ("Claim", "论断"),
    "claim_info": ("the claims with results first; each with its verdict",
                   "有结果的论断排在前面；每个论断后面是它的结论"),
    # the dropdown's entries and the verdicts
    "choice": ("{name} — {verdict}", "{name}：{verdict}"),
    "verdict_supported": ("supported", "得到支持"),
    "verdict_contradicted": ("contradicted", "被否定"),
    "verdict_unclear": ("not distinguishable at this scale", "在这个规模下无法区分"),
    "status_not_run": ("not yet run", "尚未运行"),
    "status_needs": ("waits for a model option", "等待模型选项"),
    # the sentence
    "sentence": ("**The notes, §{section}:** {claim}\n\n*Varied:* `{varied}`",
                 "**笔记 §{section}：** {claim}\n\n*变化的部分：* `{varied}`"),
    # the verdict
    "verdict_line": ("### Verdict: {verdict}", "### 结论：{verdict}"),
    "expect_better": ("The notes expect **{a}** to beat **{b}** ({metric}, {direction} is better): supported when "
                      "the 95 % interval of the difference lies wholly on the good side of 0, contradicted when it "
                      "lies wholly on the other side.",
                      "笔记认为 **{a}** 胜过 **{b}**（{metric}，{direction}为好）：差值的 95% 区间完全落在好的一侧时"
                      "为“得到支持”，完全落在另一侧时为“被否定”。"),
    "expect_equal": ("The notes expect **{a}** and **{b}** to give about the same {metric}: supported when the 95 % "
                     "interval of the difference lies within ±{margin}, contradicted when it lies wholly outside.",
                     "笔记认为 **{a}** 与 **{b}** 的{metric}大致相同：差值的 95% 区间落在 ±{margin} 之内时为“得到"
                     "支持”，完全落在其外时为“被否定”。"),
    "higher": ("higher", "越高"),
    "lower": ("lower", "越低"),
    "incomplete": ("⚠️ Incomplete: not every variant has finished every seed yet.",
                   "⚠️ 尚不完整：并非每个变体都已跑完所有种子。"),
    "not_run": ("This claim has no results yet. Run it on this machine with:",
                "这个论断还没有结果。可以在本机用下面的命令运行："),
    "needs": ("This claim cannot run yet: it waits for these model options:",
              "这个论断暂时无法运行，它在等待以下模型选项："),
    # the table
    "col_variant": ("variant", "变体"),
    "col_final": ("{metric} at update {steps}", "第 {steps} 步的{metric}"),
    "col_seeds": ("seeds", "种子数"),
    "col_weights": ("weights", "参数量"),
    "col_comparison": ("comparison", "比较"),
    "col_difference": ("difference", "差值"),
    "col_interval": ("95 % interval", "95% 区间"),
    "col_judged": ("verdict", "结论"),
    "no_numbers": ("No numbers yet.", "还没有数据。"),
    # the figure
    "figure_title": ("{metric} during training: mean of the seeds, band from the worst to the best seed",
                     "训练过程中的{metric}：各种子的均值，阴影带从最差的种子到最好的种子"),
    "axis_update": ("update", "更新步数"),
    "band": ("{variant}: seeds' range", "{variant}：种子范围"),
    "metric_accuracy": ("top-1 accuracy", "top-1 准确率"),
    "metric_loss": ("validation loss", "验证损失"),
    "metric_train_loss": ("training loss", "训练损失"),
    # why it may differ, and what made the numbers
    "why": ("**Why this may differ from the paper.** {text}", "**为什么结果可能与论文不同。** {text}"),
    "made_by": ("**Made by**", "**产生结果的命令**"),
    "hardware": ("**Hardware:** {machines}", "**硬件：** {machines}"),
    "machine": ("{cpu} ({cores} cores, {threads} torch thread(s)), {device}, torch {torch}",
                "{cpu}（{cores} 核，{threads} 个 torch 线程），{device}，torch {torch}"),
    # the live rerun
    "rerun_button": ("Rerun live (short)", "现场重跑（缩短版）"),
    "stop_button": ("Stop", "停止"),
    "rerun_info": ("Reruns a short version on this server through the Train tab's job manager (one seed, two "
                   "evaluations per variant, one run at a time per session): its curves, dashed, stream in beside the "
                   "shipped ones.",
                   "在本服务器上通过训练页的任务管理器重跑一个缩短版（一个种子，每个变体两次评估，每个会话同时只运行"
                   "一个）：它的曲线以虚线实时显示在已有结果旁边。"),
    "live_trace": ("{variant} (live, seed {seed})", "{variant}（现场，种子 {seed}）"),
    "live_running": ("⏳ Live rerun, seed {seed}: **{variant}** ({i} of {n}), update {step} of {steps}",
                     "⏳ 现场重跑，种子 {seed}：**{variant}**（第 {i} 个，共 {n} 个），第 {step} / {steps} 步"),
    "live_finished": ("Live rerun finished ({seconds} s): the dashed lines, beside the shipped curves.",
                      "现场重跑完成（{seconds} 秒）：虚线为重跑结果，与已有曲线并列。"),
    "live_stopped": ("Live rerun stopped at **{variant}**, update {step}.",
                     "现场重跑已在 **{variant}** 第 {step} 步停止。"),
    "live_failed": ("Live rerun of **{variant}** failed: {reason}", "**{variant}** 的现场重跑失败：{reason}"),
    "needs_option": ("Claim {claim} cannot run yet: it needs {needs}.", "论断 {claim} 暂时无法运行：它需要 {needs}。"),
    "wall": ("**Runs' wall time:** {minutes} min in all", "**运行总耗时：** 共 {minutes} 分钟"),
})
