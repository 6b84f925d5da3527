// Picks the best run of a sample with `epi-report select`: by `metric` (a metrics.json field)
// on the `evaluated_on` rows (val: validation rows at the best epoch; test: the test fold).
// selection.tsv names the chosen run's directory (`run`), so main.nf joins it back to that
// run's training meta; model.pt is a copy of the chosen checkpoint.
process EPI_SELECT {
    tag "${meta.id}:${metric}:${evaluated_on}"
    label 'process_single'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(runs, stageAs: 'runs/*')
    val(metric)
    val(evaluated_on)

    output:
    tuple val(meta), path("${prefix}")                   , emit: dir
    tuple val(meta), path("${prefix}/selection.tsv")     , emit: selection
    tuple val(meta), path("${prefix}/model.pt")          , emit: model
    path "versions.yml"                                  , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_selected"
    """
    epi-report select runs \\
        --metric ${metric} \\
        --on ${evaluated_on} \\
        --out ${prefix} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_selected"
    """
    mkdir -p ${prefix}
    touch ${prefix}/model.pt ${prefix}/selection.json
    run=\$(ls runs | sort | head -n 1)
    printf 'run\\tmodel\\tfold\\tmetric\\ton\\tvalue\\n%s\\tstub\\t1\\t${metric}\\t${evaluated_on}\\t0\\n' "\$run" > ${prefix}/selection.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
