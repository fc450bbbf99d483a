// A little help on top of plain HTML (every page works without it): play an upload's excerpt and the
// work's one after the other, to compare by ear.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.play-both");
  if (!button) return;
  const [first, second] = button.dataset.pair.split("|").map((src) => new Audio(src));
  first.addEventListener("ended", () => second.play());
  first.play();
});
