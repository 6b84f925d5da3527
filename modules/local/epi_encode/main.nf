// One pair store per (encoding, augment_copies, max_shift) need, all three from meta (main.nf
// reads them from the model registry); shifted copies of each positive when augment_copies > 0.
process EPI_ENCODE {
    tag "${meta.id}:${meta.encoding}:x${meta.augment_copies}"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(pairs), path(genome), path(genome_index)

    output:
    tuple val(meta), path("${prefix}.h5"), emit: store
    path "versions.yml"                  , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def cell_type_arg = meta.cell_type ? "--cell-type ${meta.cell_type}" : ''
    prefix = task.ext.prefix ?: "${meta.id}.${meta.encoding}.aug${meta.augment_copies}-${meta.max_shift}"
    """
    epi-encode pairs \\
        --pairs ${pairs} \\
        --genome ${genome} \\
        --encoding ${meta.encoding} \\
        --augment-copies ${meta.augment_copies} \\
        --max-shift ${meta.max_shift} \\
        ${cell_type_arg} \\
        --seed ${params.seed} \\
        --out ${prefix}.h5 \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}.${meta.encoding}.aug${meta.augment_copies}-${meta.max_shift}"
    """
    touch ${prefix}.h5

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
