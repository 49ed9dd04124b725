#!/bin/sh
# shop/hostile: output that a log pane must render as inert text.
# Every second: Rich/Textual markup, an OSC 52 clipboard write, an OSC 8
# hyperlink, a clear-screen, a bare carriage return, and lines on stderr.
# Every 10th tick also: invalid UTF-8, an alternate-screen switch and a
# 4000-character line.
i=0
while :; do
    i=$((i + 1))
    echo "[bold]not bold[/bold]"
    echo "[@click=app.quit]click me[/]"
    printf 'osc52:\033]52;c;aGVsbG8=\007:end\n'
    printf 'osc8:\033]8;;http://x\033\\link\033]8;;\033\\:end\n'
    printf 'before-clear\033[2Jafter-clear\n'
    printf 'progress 10%%\rprogress 100%% (bare CR) tick=%d\n' "$i"
    echo "stderr: [red]markup on stderr[/red] tick=$i" >&2
    printf 'stderr: \033[31mred via SGR\033[0m tick=%d\n' "$i" >&2
    if [ $((i % 10)) -eq 0 ]; then
        printf 'invalid-utf8: \377\376\300\257 end\n'
        printf 'altscreen:\033[?1049h:end\033[?1049l\n'
        printf 'long:%04000d\n' 0
    fi
    sleep 1
done
