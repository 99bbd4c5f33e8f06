import t from "tap";
import { reconcilers } from "../../reconcilers/index.js";
import { orderReconcilers } from "../../src/engine/order.js";

t.test("after is respected, otherwise the listed order is kept", async (t) => {
  const order = orderReconcilers([
    { name: "c", after: ["b"] },
    { name: "a" },
    { name: "b", after: ["a"] },
  ]).map((r) => r.name);
  t.strictSame(order, ["a", "b", "c"]);
  t.strictSame(
    orderReconcilers(reconcilers).map((r) => r.name),
    reconcilers.map((r) => r.name),
    "the registry is already in apply order",
  );
});

t.test("cycles and unknown names are errors that name them", async (t) => {
  t.throws(
    () =>
      orderReconcilers([
        { name: "a", after: ["b"] },
        { name: "b", after: ["a"] },
      ]),
    /cycle in "after": a -> b -> a/,
  );
  t.throws(() => orderReconcilers([{ name: "a", after: ["zz"] }]), /unknown concern "zz"/);
});
