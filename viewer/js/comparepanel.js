// comparepanel.js: the UI of the two-date compare (compare.js): the panel's switch and
// dates A and B, and the divider dragged over the map.

import { DateCompare } from "./compare.js";

/** Wire the compare panel and divider to a DateCompare over `context`; returns it. */
export function mountCompare(context) {
  const compare = new DateCompare(context);
  const panel = document.getElementById("comparePanel");
  const on = document.getElementById("compareOn");
  const dateA = document.getElementById("compareA");
  const dateB = document.getElementById("compareB");
  const divider = document.getElementById("compareDivider");
  panel.hidden = context.projects().length === 0;
  on.addEventListener("change", async () => {
    if (on.checked) {
      if (!dateA.value) dateA.value = context.defaultDateA();
      divider.hidden = false;
      placeDivider(divider, context.viewer.scene.splitPosition || 0.5);
      await compare.enter(dateA.value, dateB.value);
    } else {
      divider.hidden = true;
      compare.leave();
    }
  });
  for (const input of [dateA, dateB]) input.addEventListener("change", () => compare.setDates(dateA.value, dateB.value));
  dragDivider(divider, context.viewer, (fraction) => compare.setPosition(fraction));
  return compare;
}

/** Put the divider at `fraction` of the map's width. */
function placeDivider(divider, fraction) {
  divider.style.left = `${fraction * 100}%`;
}

/** Drag the divider with the mouse or a finger; `onMove(fraction)` while dragging. */
function dragDivider(divider, viewer, onMove) {
  divider.addEventListener("pointerdown", (down) => {
    down.preventDefault();
    divider.setPointerCapture(down.pointerId);
    const move = (event) => {
      const box = viewer.scene.canvas.getBoundingClientRect();
      const fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
      placeDivider(divider, fraction);
      onMove(fraction);
    };
    const up = () => { divider.removeEventListener("pointermove", move); divider.removeEventListener("pointerup", up); };
    divider.addEventListener("pointermove", move);
    divider.addEventListener("pointerup", up);
  });
}
