"""Noise detection: strips injected junk, never URLs, hashes, paths, numbers or code."""

from __future__ import annotations

import pytest

from retrieval.corpus.noise import clean_noise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("维护成本也不 24177411244444117 期 71 个高", "维护成本也不 期 71 个高"),
        ("正在引入 K8S 中 71477448 7d;)eexsnjnkm&/hfb6;", "正在引入 K8S 中"),
        ("配置文件宋*是啥说切让我说切让我说切让我说切让我 1 好", "配置文件宋*是啥 1 好"),
        ("或者ingres1PS7hig4 是 GPSPSPPSPPSPPSP 确实好", "或者 是 确实好"),
        ("计算性能是个大问题\n我 hefwehfweh\n伟大", "计算性能是个大问题\n伟大"),
    ],
)
def test_noise_runs_are_removed(text: str, expected: str) -> None:
    result = clean_noise(text)
    assert result.found
    assert result.text == expected
    assert result.removed > 0


@pytest.mark.parametrize(
    "text",
    [
        "![](https://p.k8s.li/1575857978783.png)",
        "cpuset:/docker/91d943c55687630dd20775128e2ba70ad1a0c9145799025e403be6c2a7480cb2",
        "比如 token 11111111 用户 token 信息",
        "60*2430*50010000 的数据量",
        "通过包 k8s.io/api/core/v1 访问",
        "早期从事 Java&JavaScript 开发",
        "mp.weixin.qq.com/s?__biz=MzA4MjQ1NTgyOQ==&mid=300723383&idx=1&sn=2c31770da35b429b74ef0264bfb17201",
        "参数 --cpuset-cpus=0,1 (cat /proc/cpuinfo)",
        "分隔线 ------ 之后，Juice---一种框架",
        "v1beta1 与 ipv6、x86_64、utf8mb4 都正常",
    ],
)
def test_legitimate_text_is_left_alone(text: str) -> None:
    result = clean_noise(text)
    assert not result.found
    assert result.text == text
