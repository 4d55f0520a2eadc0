/**
 * src/report — the campaign report: a pure function from `ReportData` (plain JSON) to one static,
 * self-contained HTML page with inline SVG charts.
 *
 * Belongs here: the report's input types, number formatting for people, hand-written SVG charts,
 * tables and the page's CSS. Importable anywhere (workflows included): no Node built-ins, no I/O,
 * no clock, no randomness, no DOM and no browser libraries.
 * Does not belong here: fetching the data (activities gather it from workflow results and the
 * artifact store) and writing the page anywhere (the caller stores the returned string).
 */
export { renderReport } from './render-report';
export type {
  AccuracyReport,
  DenseReport,
  FinetuneReport,
  LatencyByDevice,
  LatencyPoint,
  LlmTotals,
  PrunedReport,
  ReportData,
  TargetReport,
  TargetStatus,
  CampaignOutcome,
} from './report-data';
