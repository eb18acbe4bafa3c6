"""Colloquial → written Chinese, for how engineers type in Slack.

People write 挂了, 起不来, 连不上, 咋整, 踩坑; the archive's answers, transcribed from talks, say 宕机,
启动失败, 无法连接, 怎么办, 问题. Each colloquial phrase found in a query adds its written forms as
weaker alternatives of the same query unit (the phrase itself still counts in full), the same way
English terms get their glossary renderings. General usage only: nothing here is taken from a
benchmark query. Single characters are avoided as keys where they also sit inside written words
(盘 in 数据盘, 库 in 数据库): there the expansion was measured to add noise on the dev set.

Example:
    >>> [p for p, _ in colloquial_terms("pod 起不来，节点也挂了")]
    ['起不来', '挂了']
"""

from __future__ import annotations

from retrieval.lexical import normalize

COLLOQUIAL: dict[str, tuple[str, ...]] = {
    # failure states
    "挂了": ("宕机", "故障", "挂掉"),
    "挂掉": ("宕机", "故障"),
    "崩了": ("崩溃", "故障"),
    "跪了": ("故障", "宕机"),
    "起不来": ("启动失败", "无法启动"),
    "启动不了": ("启动失败", "无法启动"),
    "连不上": ("无法连接", "连接失败"),
    "连不通": ("无法连接", "不通"),
    "访问不了": ("无法访问",),
    "ping不通": ("网络不通",),
    "拉不下来": ("拉取失败", "无法拉取"),
    "卡住": ("阻塞", "hang"),
    "卡死": ("阻塞", "无响应"),
    "很卡": ("性能", "慢"),
    "好慢": ("性能", "慢"),
    "爆了": ("溢出", "耗尽"),
    "打满": ("耗尽", "100%"),
    "oom了": ("oom", "内存溢出"),
    # doing things
    "咋整": ("怎么办", "处理"),
    "搞定": ("解决", "实现"),
    "一块盘": ("磁盘",),
    "跑在": ("运行在", "部署在"),
    "跑着": ("运行",),
    "跑起来": ("运行", "启动"),
    "装": ("安装", "部署"),
    "拉起来": ("启动", "重启", "自动恢复"),
    "拉镜像": ("拉取镜像", "pull"),
    "瘦身": ("减小", "精简", "优化"),
    "减肥": ("减小", "精简"),
    "加机器": ("扩容", "增加节点"),
    "加节点": ("扩容", "增加节点"),
    "扩机器": ("扩容",),
    "收日志": ("日志采集", "日志收集"),
    "看日志": ("查看日志",),
    "上线": ("发布", "部署"),
    "回退": ("回滚",),
    "灰度": ("灰度发布",),
    "踩坑": ("问题", "经验"),
    "有坑": ("问题",),
    "坑": ("问题",),
    "咋样": ("如何", "现状"),
    "靠谱": ("可靠", "稳定"),
    "好使": ("好用", "效果"),
    "有啥区别": ("区别", "对比"),
    "有啥不一样": ("区别", "对比"),
    "比起来": ("对比",),
    "压测": ("压力测试", "性能测试"),
    "扛不住": ("性能", "瓶颈"),
    "吃内存": ("内存占用",),
    "跨机器": ("跨主机", "跨机"),
    "多台机器": ("跨主机", "跨机", "多主机"),
    "好几个": ("多个",),
    "好几台": ("多台",),
    # things
    "容器云": ("容器平台", "容器云平台", "paas"),
    "机器": ("服务器", "主机", "节点"),
    "配置文件": ("配置",),
    "环境变量": ("env",),
    "小集群": ("多集群",),
    "大集群": ("规模",),
}

_MAX_LEN = max(len(k) for k in COLLOQUIAL)


def colloquial_terms(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Colloquial phrases found in ``text`` (longest match first, left to right) with written forms."""
    s = normalize(text)
    out: list[tuple[str, tuple[str, ...]]] = []
    i = 0
    while i < len(s):
        for n in range(min(_MAX_LEN, len(s) - i), 0, -1):
            phrase = s[i : i + n]
            if phrase in COLLOQUIAL:
                out.append((phrase, COLLOQUIAL[phrase]))
                i += n
                break
        else:
            i += 1
    return out
