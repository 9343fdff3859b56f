// The AugCLIP-vs-step plot, drawn live with uPlot (vendored: /vendor/uplot, a global `uPlot`).
export class ScorePlot {
  constructor(element, caption) {
    this.element = element;
    this.caption = caption;
    this.steps = [];
    this.scores = [];
    this.chart = null;
    // The layout changes under the plot (the result appears beside it, a phone turns): follow its width.
    new ResizeObserver(() => this.fit()).observe(element);
  }

  fit() {
    if (!this.chart) return;
    const width = Math.max(this.element.clientWidth, 240);
    if (Math.abs(this.chart.width - width) > 8) this.chart.setSize({ width, height: 220 });
  }

  reset() {
    this.steps = [];
    this.scores = [];
    this.chart?.destroy();
    this.chart = null;
    this.element.replaceChildren();
    this.caption.textContent = "0 points";
  }

  add(step, score) {
    if (score === null || score === undefined) return;
    const last = this.steps.length - 1;
    if (last >= 0 && this.steps[last] === step) { this.scores[last] = score; }
    else if (last >= 0 && step < this.steps[last]) return;
    else { this.steps.push(step); this.scores.push(score); }
    this.draw();
  }

  draw() {
    const width = Math.max(this.element.clientWidth, 240);
    const data = [this.steps, this.scores];
    if (!this.chart) {
      this.chart = new uPlot({
        width, height: 220,
        scales: { x: { time: false } },
        axes: [{ label: "step" }, { label: "AugCLIP" }],
        series: [{ label: "step" }, { label: "AugCLIP", stroke: "#2452c9", width: 2, points: { show: true, size: 5 } }],
        legend: { show: false },
      }, data, this.element);
    } else {
      this.fit();
      this.chart.setData(data);
    }
    this.caption.textContent = `${this.steps.length} point${this.steps.length === 1 ? "" : "s"}`;
  }
}
