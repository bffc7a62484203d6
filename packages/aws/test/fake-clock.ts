export { fakeClock } from "@mlflow-dev/kernel/fake-clock";
